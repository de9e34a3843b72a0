// Workgroup sum for the fused GRN kernels (grn-fused-*-body.wgsl), GPU plan without subgroups:
// a 256-lane tree in workgroup memory, log2(256) + 1 barriers. Every lane gets the total.
// Called in uniform control flow by every lane of the workgroup.

override WG: u32 = 256u; // lanes, a power of two; the plan picks it
var<workgroup> red: array<vec2<f32>, WG>;

fn group_sum2(v: vec2<f32>, lid: u32) -> vec2<f32> {
  red[lid] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { red[lid] += red[lid + stride]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier(); // the next call's writes must not overtake this read
  return total;
}
