// GRN fused backward (grn-fused-backward-body.wgsl), software plan with subgroups (compiled
// only where the device has the 'subgroups' feature): one workgroup of 4 lanes, a single
// subgroup, for the whole batch; channel sums by subgroupAdd alone; no barrier anywhere.
enable subgroups;
//#include "grn-reduce-one-subgroup.wgsl"
//#include "grn-fused-backward-body.wgsl"

@compute @workgroup_size(4)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  backward_all(lid);
}
