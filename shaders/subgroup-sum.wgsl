// Workgroup sum through subgroups, for kernels with a 256-thread workgroup (WG) that need
// `enable subgroups;` (only compiled when the device has the feature; the includer keeps a
// barrier-tree workgroup_sum for devices without). subgroupAdd per subgroup, the subgroup
// leaders' sums through workgroup memory (non-leaders write 0, so no assumption about which
// local indices form a subgroup), then every subgroup folds the 256 slots lane-strided and
// subgroupAdds them: the same value, in the same order, in every thread. One barrier per
// call: consecutive calls alternate halves of `sg_slots`, so a call never overwrites slots
// that a thread may still be reading from the call before.
// The entry point must set sg_lane / sg_size from its builtins before the first call, and
// call workgroup_sum in uniform control flow.

var<private> sg_lane: u32;
var<private> sg_size: u32;
var<private> sg_half: u32;
var<workgroup> sg_slots: array<f32, 512>; // 2 × WG

fn workgroup_sum(v: f32, li: u32) -> f32 {
  let s = subgroupAdd(v);
  let base = sg_half * WG;
  sg_half = 1u - sg_half;
  sg_slots[base + li] = select(0.0, s, sg_lane == 0u);
  workgroupBarrier();
  var t = 0.0;
  for (var k = sg_lane; k < WG; k += sg_size) { t += sg_slots[base + k]; }
  return subgroupAdd(t);
}
