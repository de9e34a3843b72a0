// GRN fused forward (grn-fused-forward-body.wgsl) without subgroups: one workgroup per
// group of WG lanes (256 on GPUs, 16 on software adapters), channel sums by a
// workgroup-memory tree.
//#include "grn-reduce-tree.wgsl"
//#include "grn-fused-forward-body.wgsl"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  forward_group(wid.x, lid);
}
