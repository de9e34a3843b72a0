// "Workgroup sum" for the fused GRN kernels (grn-fused-*-body.wgsl), software plan with
// subgroups: the workgroup has WG = 4 lanes, the least subgroup size WebGPU allows, so it is a
// single subgroup and subgroupAdd alone is the whole sum. No barrier: on SwiftShader a kernel
// containing one runs every invocation as a coroutine. Called in uniform control flow.

const WG: u32 = 4u;

fn group_sum2(v: vec2<f32>, lid: u32) -> vec2<f32> {
  return subgroupAdd(v);
}
