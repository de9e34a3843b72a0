// Workgroup sum for the fused GRN kernels (grn-fused-*-body.wgsl), GPU plan with subgroups:
// subgroupAdd within each subgroup, then one level in workgroup memory, 2 barriers instead of
// the tree's 9. The including file starts with `enable subgroups;` and its entry point stores
// @builtin(subgroup_invocation_id) in sgLane. No assumption about the subgroup size (4..128)
// or about which lanes form a subgroup: lane 0 of each subgroup writes its sum at its own
// local index, every other lane writes 0, and every lane adds up all WG slots in index order
// (deterministic, the same total in every lane). Called in uniform control flow.

override WG: u32 = 256u; // lanes, a power of two; the plan picks it
var<private> sgLane: u32;
var<workgroup> red: array<vec2<f32>, WG>;

fn group_sum2(v: vec2<f32>, lid: u32) -> vec2<f32> {
  let s = subgroupAdd(v);
  red[lid] = select(vec2<f32>(0.0), s, sgLane == 0u);
  workgroupBarrier();
  var total = vec2<f32>(0.0);
  for (var k = 0u; k < WG; k++) { total += red[k]; }
  workgroupBarrier(); // the next call's writes must not overtake these reads
  return total;
}
