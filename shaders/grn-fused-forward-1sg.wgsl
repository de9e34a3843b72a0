// GRN fused forward (grn-fused-forward-body.wgsl), software plan with subgroups (compiled
// only where the device has the 'subgroups' feature): one workgroup per group of 4 lanes, a
// single subgroup, channel sums by subgroupAdd alone; no barrier anywhere.
enable subgroups;
//#include "grn-reduce-one-subgroup.wgsl"
//#include "grn-fused-forward-body.wgsl"

@compute @workgroup_size(4)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  forward_group(wid.x, lid);
}
