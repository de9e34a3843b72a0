// GRN fused backward (grn-fused-backward-body.wgsl) without subgroups: one workgroup for
// the whole batch, WG lanes (256 on GPUs, 16 on software adapters), channel sums by a
// workgroup-memory tree.
//#include "grn-reduce-tree.wgsl"
//#include "grn-fused-backward-body.wgsl"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  backward_all(lid);
}
