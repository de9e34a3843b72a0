// GRN fused forward (grn-fused-forward-body.wgsl), GPU plan with subgroups (compiled only
// where the device has the 'subgroups' feature): one workgroup per group of 256 lanes,
// channel sums by subgroupAdd and one workgroup-memory level.
enable subgroups;
//#include "grn-reduce-subgroup.wgsl"
//#include "grn-fused-forward-body.wgsl"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) lane: u32) {
  sgLane = lane;
  forward_group(wid.x, lid);
}
