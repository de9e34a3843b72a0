// LayerNorm row kernels with subgroup reductions, for devices with the 'subgroups' feature
// (src/ops/layernorm.ts picks this file at plan build; layernorm.wgsl alone is the path
// without). Same arithmetic and bindings as layernorm.wgsl's forward / backward_dx /
// backward_fused (included below), but the p.tpr threads of a row are lanes of one subgroup
// and their sum is subgroupAdd or a butterfly of subgroupShuffleXor: no workgroup memory, no
// reduction barrier (one barrier at the start hands out the subgroup tickets, below).
//
// Surprising bits:
//  - WGSL promises nothing about how local_invocation_index maps to subgroups, so rows are
//    assigned by subgroup: each subgroup draws a ticket (an atomicAdd by its elected lane on a
//    workgroup counter) and its lanes take rows by subgroup_invocation_id. The counter is
//    zeroed explicitly, then a barrier: without them every subgroup drew ticket 0 on SwiftShader
//    (it seems to run a barrier-free workgroup one subgroup after another, workgroup memory
//    zeroed for each).
//  - The subgroup size is read (@builtin(subgroup_size)), never assumed: a row's lanes are
//    min(tpr, subgroup size); with a subgroup narrower than tpr each lane walks more channels
//    (and a workgroup's later subgroups idle), with a wider one a subgroup holds several rows
//    whose segments of lanes reduce by XOR shuffles, which stay inside a segment.
//  - Tickets are subgroup-uniform but come from an atomic, which WGSL's uniformity analysis
//    cannot see; hence `diagnostic(off, subgroup_uniformity)`. Every subgroup operation is
//    reached by all lanes of the subgroup: loops run on subgroup-uniform bounds and mask rows.
enable subgroups;
diagnostic(off, subgroup_uniformity);
//#include "layernorm.wgsl"

var<workgroup> sg_tickets: atomic<u32>;

// This subgroup's index in the workgroup, 0 … subgroups − 1 in the order they arrive. Call
// from workgroup-uniform control flow (a barrier).
fn subgroup_ticket(li: u32) -> u32 {
  if (li == 0u) { atomicStore(&sg_tickets, 0u); }
  workgroupBarrier();
  var t = 0u;
  if (subgroupElect()) { t = atomicAdd(&sg_tickets, 1u); }
  return subgroupBroadcastFirst(t);
}

// Sum of v over the `lanes` lanes (a power of two ≤ subgroup size) of this lane's aligned segment.
fn lane_segment_sum(v: vec2<f32>, lanes: u32, sg_size: u32) -> vec2<f32> {
  if (lanes == sg_size) { return subgroupAdd(v); }
  var s = v;
  for (var o = 1u; o < lanes; o <<= 1u) { s += subgroupShuffleXor(s, o); }
  return s;
}

// Where the rows of workgroup `w` go: rows [w·(WG / tpr), …), each row to `lanes` lanes; a
// subgroup holds `per_sg` rows and visits its rows first, first + stride, … (local indices).
struct SgRows {
  lanes: u32,
  lane: u32,
  first: u32,
  stride: u32,
  segment: u32,
}

fn sg_rows(li: u32, sg_lane: u32, sg_size: u32) -> SgRows {
  let lanes = min(p.tpr, sg_size);
  let per_sg = sg_size / lanes;
  let subgroups = (WG + sg_size - 1u) / sg_size;
  return SgRows(lanes, sg_lane % lanes, subgroup_ticket(li) * per_sg, subgroups * per_sg, sg_lane / lanes);
}

@compute @workgroup_size(256)
fn forward_sg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32,
              @builtin(subgroup_invocation_id) sg_lane: u32, @builtin(subgroup_size) sg_size: u32) {
  let s = sg_rows(li, sg_lane, sg_size);
  let rows_per_wg = WG / p.tpr;
  let row0 = (wid.x + wid.y * nwg.x) * rows_per_wg;
  let n = f32(p.C);
  for (var local0 = s.first; local0 < rows_per_wg; local0 += s.stride) {
    let row = row0 + local0 + s.segment;
    let in_range = local0 + s.segment < rows_per_wg && row < p.rows;
    let base = row * p.C;
    var sum = 0.0;
    if (in_range) { sum = row_sum(base, s.lane, s.lanes); }
    let mean0 = lane_segment_sum(vec2<f32>(sum, 0.0), s.lanes, sg_size).x / n;
    var acc = vec2<f32>(0.0);
    if (in_range) { acc = row_centered_sums(base, s.lane, s.lanes, mean0); }
    let centered = lane_segment_sum(acc, s.lanes, sg_size) / n;
    if (in_range) { row_normalize(row, s.lane, s.lanes, mean0, centered); }
  }
}

// backward_dx's rows of workgroup index w (row workgroups only).
fn backward_dx_rows(w: u32, li: u32, sg_lane: u32, sg_size: u32) {
  let s = sg_rows(li, sg_lane, sg_size);
  let rows_per_wg = WG / p.tpr;
  let row0 = w * rows_per_wg;
  for (var local0 = s.first; local0 < rows_per_wg; local0 += s.stride) {
    let row = row0 + local0 + s.segment;
    let in_range = local0 + s.segment < rows_per_wg && row < p.rows;
    var acc = vec2<f32>(0.0);
    if (in_range) { acc = row_grad_sums(row, s.lane, s.lanes); }
    let means = lane_segment_sum(acc, s.lanes, sg_size) / f32(p.C);
    if (in_range) { row_write_dx(row, s.lane, s.lanes, means); }
  }
}

@compute @workgroup_size(256)
fn backward_dx_sg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) li: u32,
                  @builtin(subgroup_invocation_id) sg_lane: u32, @builtin(subgroup_size) sg_size: u32) {
  backward_dx_rows(wid.x + wid.y * nwg.x, li, sg_lane, sg_size);
}

// backward_fused with subgroup rows: column threads in the first p.param_groups workgroups.
@compute @workgroup_size(256)
fn backward_fused_sg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) li: u32,
                     @builtin(subgroup_invocation_id) sg_lane: u32, @builtin(subgroup_size) sg_size: u32) {
  let w = wid.x + wid.y * nwg.x;
  if (w < p.param_groups) { column_params(w, li); } else { backward_dx_rows(w - p.param_groups, li, sg_lane, sg_size); }
}
