// patchify.wgsl's GPU-plan kernel with subgroup sums (subgroup-sum.wgsl: one barrier per sum
// instead of a nine-level tree). Only compiled when the device has 'subgroups'.
enable subgroups;

//#include "patchify-common.wgsl"
//#include "subgroup-sum.wgsl"

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32,
        @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) size: u32) {
  sg_lane = lane;
  sg_size = size;
  let row = wid.x + wid.y * nwg.x; // n·L + patch; uniform across the workgroup
  if (row >= p.N * p.grid_h * p.grid_w) { return; }
  patchify_row_workgroup(row, li);
}
