// fcmae-loss.wgsl's GPU-plan kernels (row_loss, reduce, small) with subgroup sums
// (subgroup-sum.wgsl: one barrier per sum instead of a nine-level tree). Only compiled when
// the device has 'subgroups'.
enable subgroups;

//#include "fcmae-loss-common.wgsl"
//#include "subgroup-sum.wgsl"

@compute @workgroup_size(256)
fn row_loss(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32,
            @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) size: u32) {
  sg_lane = lane;
  sg_size = size;
  let i = wid.x + wid.y * nwg.x; // uniform across the workgroup
  if (i >= p.N * p.M) { return; }
  let total = row_sum_workgroup(i, li);
  if (li == 0u) { rl_out[i] = total / f32(PATCH_VALUES); }
}

@compute @workgroup_size(256)
fn reduce(@builtin(local_invocation_index) li: u32,
          @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) size: u32) {
  sg_lane = lane;
  sg_size = size;
  reduce_workgroup(li);
}

@compute @workgroup_size(256)
fn small(@builtin(local_invocation_index) li: u32,
         @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) size: u32) {
  sg_lane = lane;
  sg_size = size;
  small_workgroup(li);
}
