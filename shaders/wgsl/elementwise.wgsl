// elementwise: one interpreter for every elementwise op. A launch carries a small SSA program
// in its uniform (the plan's `FusedProgram`, or a one-instruction program for a plain
// unary / unary-grad / binary / expand node): instruction p defines register p, the last
// register is the output. Inputs are read with NumPy broadcasting: per input, either the
// output's own index, one scalar, or per-dim strides (0 on broadcast dims).
//
// An interpreter rather than WGSL generated per program: the registry stays a list of static
// kernels that naga validates and cross-compiles in plain tests, and one pipeline serves every
// program. The program is the same for every invocation, so the `switch` below never diverges.
//
// The functions mirror `tessera_dsl::graph::scalar` (the CPU's f32 semantics): erf is the same
// rational approximation, GELU-tanh uses the same saturating tanh.

override WORKGROUP_SIZE: u32 = 64u;

const MAX_RANK: u32 = 8u;

// Instruction kinds (code[p].x).
const LOAD: u32 = 0u;
const UNARY: u32 = 1u;
const UNARY_GRAD: u32 = 2u;
const BINARY: u32 = 3u;

// Unary functions (code[p].z for UNARY and UNARY_GRAD).
const AFFINE: u32 = 0u;
const GELU_ERF: u32 = 1u;
const GELU_TANH: u32 = 2u;
const RELU: u32 = 3u;
const EXP: u32 = 4u;
const LOG: u32 = 5u;
const SQRT: u32 = 6u;
const RECIP: u32 = 7u;
const SQUARE: u32 = 8u;
const TANH: u32 = 9u;

// Binary functions (code[p].z for BINARY).
const ADD: u32 = 0u;
const SUB: u32 = 1u;
const MUL: u32 = 2u;
const DIV: u32 = 3u;

// Input access modes.
const SAME_INDEX: u32 = 0u;
const SCALAR: u32 = 1u;
const STRIDED: u32 = 2u;

struct Params {
    // Output elements.
    n: u32,
    // Output rank (<= 8).
    rank: u32,
    // Instructions (<= 16).
    n_instr: u32,
    // 1 if any input is STRIDED (the output coordinates are then computed once per element).
    strided: u32,
    // Access mode of input j at modes[j / 4][j % 4].
    modes: array<vec4<u32>, 2>,
    // Output dims, dim d at dims[d / 4][d % 4].
    dims: array<vec4<u32>, 2>,
    // Stride of input j along output dim d at word 8 j + d.
    strides: array<vec4<u32>, 16>,
    // Instruction p: (kind, operand a, function, operand b). LOAD reads input number a.
    code: array<vec4<u32>, 16>,
    // Constants of instruction p: (mul, add) of AFFINE.
    consts: array<vec4<f32>, 16>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> in0: array<f32>;
@group(0) @binding(2) var<storage, read_write> in1: array<f32>;
@group(0) @binding(3) var<storage, read_write> in2: array<f32>;
@group(0) @binding(4) var<storage, read_write> in3: array<f32>;
@group(0) @binding(5) var<storage, read_write> in4: array<f32>;
@group(0) @binding(6) var<storage, read_write> in5: array<f32>;
@group(0) @binding(7) var<storage, read_write> in6: array<f32>;
@group(0) @binding(8) var<storage, read_write> in7: array<f32>;
@group(0) @binding(9) var<storage, read_write> out: array<f32>;

fn load(n: u32, j: u32) -> f32 {
    switch n {
        case 0u: { return in0[j]; }
        case 1u: { return in1[j]; }
        case 2u: { return in2[j]; }
        case 3u: { return in3[j]; }
        case 4u: { return in4[j]; }
        case 5u: { return in5[j]; }
        case 6u: { return in6[j]; }
        default: { return in7[j]; }
    }
}

const FRAC_1_SQRT_2: f32 = 0.70710678118654752;
const INV_SQRT_2PI: f32 = 0.39894228040143268;
const SQRT_2_OVER_PI: f32 = 0.79788456080286536;

// Eigen's `generic_fast_erf_float`: |error| < 1e-6, identical to the CPU's `erf_f32`.
fn erf(x_in: f32) -> f32 {
    let x = clamp(x_in, -4.0, 4.0);
    let x2 = x * x;
    var p = x2 * -2.72614225801306e-10 + 2.77068142495902e-08;
    p = x2 * p + -2.10102402082508e-06;
    p = x2 * p + -5.69250639462346e-05;
    p = x2 * p + -7.34990630326855e-04;
    p = x2 * p + -2.95459980854025e-03;
    p = x2 * p + -1.60960333262415e-02;
    p = x * p;
    var q = x2 * -1.45660718464996e-05 + -2.13374055278905e-04;
    q = x2 * q + -1.68282697438203e-03;
    q = x2 * q + -7.37332916720468e-03;
    q = x2 * q + -1.42647390514189e-02;
    return p / q;
}

// WGSL promises `log` only to an absolute 2^-21 on [0.5, 2]: near x = 1, where log x → 0,
// that is a large relative error (1e-5 at x = 0.9966). There log x = 2·atanh(u) with
// u = (x − 1) / (x + 1), |u| < 0.15, whose series to u⁹ is exact to f32 (x − 1 is exact).
fn log_relative(x: f32) -> f32 {
    if (abs(x - 1.0) < 0.25) {
        let u = (x - 1.0) / (x + 1.0);
        let u2 = u * u;
        return 2.0 * u * (1.0 + u2 * (1.0 / 3.0 + u2 * (0.2 + u2 * (1.0 / 7.0 + u2 / 9.0))));
    }
    return log(x);
}

// tanh′ = 1 − tanh² = 1 / cosh²: computed as 1 − t·t it cancels where tanh saturates (a
// relative error of ε / (1 − t²), 1e-5 at |x| = 2.5); cosh keeps full relative precision.
// Beyond |x| = 15 the value is below 4e-13 and cosh² would overflow f32.
fn sech2(x: f32) -> f32 {
    let c = cosh(clamp(x, -15.0, 15.0));
    return 1.0 / (c * c);
}

// tanh as 1 − 2 / (exp(2u) + 1): saturates to ±1 instead of overflowing (the CPU's form).
fn tanh_sat(u: f32) -> f32 {
    return 1.0 - 2.0 / (exp(clamp(2.0 * u, -87.0, 88.0)) + 1.0);
}

fn unary(f: u32, x: f32, c: vec4<f32>) -> f32 {
    switch f {
        case AFFINE: { return x * c.x + c.y; }
        case GELU_ERF: { return x * 0.5 * (1.0 + erf(x * FRAC_1_SQRT_2)); }
        case GELU_TANH: {
            let u = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
            return 0.5 * x * (1.0 + tanh_sat(u));
        }
        case RELU: { return max(x, 0.0); }
        case EXP: { return exp(x); }
        case LOG: { return log_relative(x); }
        case SQRT: { return sqrt(x); }
        case RECIP: { return 1.0 / x; }
        case SQUARE: { return x * x; }
        // Builtin tanh is accurate near 0 (where 1 − 2/(e^2x + 1) cancels); clamping keeps
        // backends that compute it through exp from overflowing to NaN.
        default: { return tanh(clamp(x, -15.0, 15.0)); }
    }
}

fn unary_grad(f: u32, x: f32, dy: f32, c: vec4<f32>) -> f32 {
    switch f {
        case AFFINE: { return dy * c.x; }
        case GELU_ERF: {
            let cdf = 0.5 * (1.0 + erf(x * FRAC_1_SQRT_2));
            let pdf = INV_SQRT_2PI * exp(-(x * x) * 0.5);
            return dy * (cdf + x * pdf);
        }
        case GELU_TANH: {
            let u = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
            let t = tanh_sat(u);
            let du = SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * x * x);
            return dy * (0.5 * (1.0 + t) + 0.5 * x * sech2(u) * du);
        }
        case RELU: { return select(0.0, dy, x > 0.0); }
        case EXP: { return dy * exp(x); }
        case LOG: { return dy * (1.0 / x); }
        case SQRT: { return dy * (0.5 / sqrt(x)); }
        case RECIP: { return dy * -(1.0 / (x * x)); }
        case SQUARE: { return dy * (2.0 * x); }
        default: { return dy * sech2(x); }
    }
}

fn binary(f: u32, a: f32, b: f32) -> f32 {
    switch f {
        case ADD: { return a + b; }
        case SUB: { return a - b; }
        case MUL: { return a * b; }
        default: { return a / b; }
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn elementwise(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
    if i >= params.n {
        return;
    }
    var coord: array<u32, MAX_RANK>;
    if params.strided != 0u {
        var rem = i;
        for (var d = params.rank; d > 0u; d--) {
            let dim = params.dims[(d - 1u) / 4u][(d - 1u) % 4u];
            coord[d - 1u] = rem % dim;
            rem = rem / dim;
        }
    }
    var regs: array<f32, 16>;
    for (var p = 0u; p < params.n_instr; p++) {
        let c = params.code[p];
        var v: f32;
        switch c.x {
            case LOAD: {
                let mode = params.modes[c.y / 4u][c.y % 4u];
                var j = i;
                if mode == SCALAR {
                    j = 0u;
                } else if mode == STRIDED {
                    j = 0u;
                    for (var d = 0u; d < params.rank; d++) {
                        let w = c.y * MAX_RANK + d;
                        j += coord[d] * params.strides[w / 4u][w % 4u];
                    }
                }
                v = load(c.y, j);
            }
            case UNARY: { v = unary(c.z, regs[c.y], params.consts[p]); }
            case UNARY_GRAD: { v = unary_grad(c.z, regs[c.y], regs[c.w], params.consts[p]); }
            default: { v = binary(c.z, regs[c.y], regs[c.w]); }
        }
        regs[p] = v;
    }
    out[i] = regs[params.n_instr - 1u];
}
