// adamw: one AdamW update in place on (param, exp_avg, exp_avg_sq), exactly the arithmetic of
// `torch.optim.AdamW` (non-fused, non-capturable) and of the CPU kernel:
//
//   m = β1 m + (1 − β1) g;  v = β2 v + (1 − β2) g²
//   p = p (1 − lr·wd) − (lr / bc1) · m / (sqrt(v) / sqrt(bc2) + eps),  bc_i = 1 − β_i^t
//
// lr and t are read from one-element tensors (set by the host each step), so a step needs no
// new uniform. The bias corrections are computed as −expm1(t · ln β) with ln β rounded on the
// host in f64: 1 − pow(β, t) in f32 would lose most digits of 1 − 0.999 at t = 1.

override WORKGROUP_SIZE: u32 = 64u;

struct Params {
    n: u32,
    beta1: f32,
    beta2: f32,
    // 1 − β1 and 1 − β2, rounded from f64.
    one_minus_beta1: f32,
    one_minus_beta2: f32,
    // ln β1 and ln β2, rounded from f64.
    ln_beta1: f32,
    ln_beta2: f32,
    eps: f32,
    weight_decay: f32,
    lr_scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> exp_avg: array<f32>;
@group(0) @binding(4) var<storage, read_write> exp_avg_sq: array<f32>;
@group(0) @binding(5) var<storage, read_write> lr_in: array<f32>;
@group(0) @binding(6) var<storage, read_write> step_in: array<f32>;

// exp(x) − 1 to f32 accuracy: a Taylor polynomial where exp(x) − 1 would cancel.
fn expm1(x: f32) -> f32 {
    if abs(x) < 0.5 {
        var s = 1.0 / 40320.0;
        s = s * x + 1.0 / 5040.0;
        s = s * x + 1.0 / 720.0;
        s = s * x + 1.0 / 120.0;
        s = s * x + 1.0 / 24.0;
        s = s * x + 1.0 / 6.0;
        s = s * x + 0.5;
        s = s * x + 1.0;
        return s * x;
    }
    return exp(x) - 1.0;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn adamw(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
    if i >= params.n {
        return;
    }
    let lr = lr_in[0] * params.lr_scale;
    let t = step_in[0];
    let bc1 = -expm1(t * params.ln_beta1);
    let bc2 = -expm1(t * params.ln_beta2);
    let decay = 1.0 - lr * params.weight_decay;
    let step = lr / bc1;
    let inv_sqrt_bc2 = 1.0 / sqrt(bc2);
    let g = grad[i];
    let m = params.beta1 * exp_avg[i] + params.one_minus_beta1 * g;
    let v = params.beta2 * exp_avg_sq[i] + params.one_minus_beta2 * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    let denom = sqrt(v) * inv_sqrt_bc2 + params.eps;
    param[i] = param[i] * decay - step * m / denom;
}
