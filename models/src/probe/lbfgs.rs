//! Limited-memory BFGS with a strong-Wolfe line search (Nocedal & Wright, Numerical
//! Optimization, 2nd ed., algorithms 7.4, 3.5 and 3.6), for smooth unconstrained problems.
//! Stopping rules follow scipy's L-BFGS-B as sklearn calls it: the largest gradient component
//! at most `gtol`, or a relative decrease of the objective of at most `ftol`, or `max_iter`.

/// Settings; the defaults are sklearn's `LogisticRegression(solver="lbfgs")` ones.
#[derive(Clone, Debug, PartialEq)]
pub struct LbfgsOptions {
    pub max_iter: usize,
    /// Pairs (s, y) kept (scipy's `maxcor`).
    pub history: usize,
    pub gtol: f64,
    pub ftol: f64,
    /// Function evaluations allowed per line search (sklearn's `maxls`).
    pub max_line_search: usize,
}

impl Default for LbfgsOptions {
    fn default() -> Self {
        LbfgsOptions {
            max_iter: 300,
            history: 10,
            gtol: 1e-4,
            ftol: 64.0 * f64::EPSILON,
            max_line_search: 50,
        }
    }
}

/// Why the minimization stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// max |gradient| <= gtol.
    Gradient,
    /// The objective stopped decreasing (relative change <= ftol).
    Function,
    /// max_iter reached.
    Iterations,
    /// No step along a descent direction satisfied the Wolfe conditions (usually the limit of
    /// floating-point precision near the optimum).
    LineSearch,
}

/// The result of a minimization.
#[derive(Clone, Debug)]
pub struct Minimum {
    pub x: Vec<f64>,
    pub value: f64,
    pub grad_max: f64,
    pub iterations: usize,
    pub evaluations: usize,
    pub stop: Stop,
}

const C1: f64 = 1e-4;
const C2: f64 = 0.9;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// One evaluated point.
struct Point {
    x: Vec<f64>,
    f: f64,
    g: Vec<f64>,
}

/// Minimizes `f`, which returns the value at `x` and writes the gradient into its second
/// argument, starting from `x0`.
pub fn minimize<F>(mut f: F, x0: Vec<f64>, opts: &LbfgsOptions) -> Minimum
where
    F: FnMut(&[f64], &mut [f64]) -> f64,
{
    let n = x0.len();
    let mut evaluations = 0;
    let mut eval = |x: Vec<f64>| -> Point {
        let mut g = vec![0.0; n];
        let fx = f(&x, &mut g);
        evaluations += 1;
        Point { x, f: fx, g }
    };
    let mut cur = eval(x0);
    let mut history: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> =
        std::collections::VecDeque::new();
    let mut iterations = 0;
    let stop = loop {
        if !cur.f.is_finite() {
            break Stop::LineSearch;
        }
        if max_abs(&cur.g) <= opts.gtol {
            break Stop::Gradient;
        }
        if iterations >= opts.max_iter {
            break Stop::Iterations;
        }
        let mut dir = two_loop(&cur.g, &history);
        let mut slope = dot(&dir, &cur.g);
        if slope >= 0.0 {
            // Not a descent direction (should not happen with positive curvature pairs).
            history.clear();
            dir = cur.g.iter().map(|g| -g).collect();
            slope = dot(&dir, &cur.g);
        }
        // Without curvature information, the first trial moves by a unit distance.
        let alpha0 = if history.is_empty() {
            1.0 / dot(&dir, &dir).sqrt()
        } else {
            1.0
        };
        let next = line_search(&mut eval, &cur, &dir, slope, alpha0, opts.max_line_search);
        let next = match next {
            Some(p) => p,
            None if !history.is_empty() => {
                history.clear();
                continue;
            }
            None => break Stop::LineSearch,
        };
        iterations += 1;
        let s: Vec<f64> = next.x.iter().zip(&cur.x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = next.g.iter().zip(&cur.g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-10 * dot(&y, &y) {
            if history.len() == opts.history {
                history.pop_front();
            }
            history.push_back((s, y, 1.0 / sy));
        }
        let decrease = (cur.f - next.f) / cur.f.abs().max(next.f.abs()).max(1.0);
        cur = next;
        if decrease <= opts.ftol {
            break if max_abs(&cur.g) <= opts.gtol {
                Stop::Gradient
            } else {
                Stop::Function
            };
        }
    };
    Minimum {
        grad_max: max_abs(&cur.g),
        x: cur.x,
        value: cur.f,
        iterations,
        evaluations,
        stop,
    }
}

/// -H g with the L-BFGS inverse-Hessian estimate, scaled by s.y / y.y of the newest pair.
fn two_loop(
    g: &[f64],
    history: &std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)>,
) -> Vec<f64> {
    let mut q: Vec<f64> = g.to_vec();
    let mut alphas = Vec::with_capacity(history.len());
    for (s, y, rho) in history.iter().rev() {
        let a = rho * dot(s, &q);
        q.iter_mut().zip(y).for_each(|(q, y)| *q -= a * y);
        alphas.push(a);
    }
    if let Some((_, y, rho)) = history.back() {
        let gamma = 1.0 / (rho * dot(y, y));
        q.iter_mut().for_each(|q| *q *= gamma);
    }
    for ((s, y, rho), a) in history.iter().zip(alphas.into_iter().rev()) {
        let b = rho * dot(y, &q);
        q.iter_mut().zip(s).for_each(|(q, s)| *q += (a - b) * s);
    }
    q.iter_mut().for_each(|q| *q = -*q);
    q
}

/// Strong-Wolfe line search along `dir` from `p` (slope = g.dir < 0). Returns the accepted
/// point, or None when `max_evals` evaluations found none.
fn line_search<E>(
    eval: &mut E,
    p: &Point,
    dir: &[f64],
    slope: f64,
    alpha0: f64,
    max_evals: usize,
) -> Option<Point>
where
    E: FnMut(Vec<f64>) -> Point,
{
    let mut at = |alpha: f64| -> (Point, f64) {
        let x = p.x.iter().zip(dir).map(|(x, d)| x + alpha * d).collect();
        let q = eval(x);
        let d = dot(&q.g, dir);
        (q, d)
    };
    let armijo = |alpha: f64, f: f64| f <= p.f + C1 * alpha * slope;
    let curvature = |d: f64| d.abs() <= -C2 * slope;

    // Bracketing phase (algorithm 3.5): (alpha, f, slope) of the previous trial.
    let mut prev = (0.0, p.f, slope);
    let mut alpha = alpha0;
    let mut evals = 0;
    let (mut lo, mut hi);
    loop {
        if evals >= max_evals {
            return None;
        }
        let (q, d) = at(alpha);
        evals += 1;
        if !q.f.is_finite() {
            // Stepped into overflow: shrink.
            lo = prev;
            hi = (alpha, f64::INFINITY, f64::NAN);
            break;
        }
        if !armijo(alpha, q.f) || (evals > 1 && q.f >= prev.1) {
            lo = prev;
            hi = (alpha, q.f, d);
            break;
        }
        if curvature(d) {
            return Some(q);
        }
        if d >= 0.0 {
            lo = (alpha, q.f, d);
            hi = prev;
            break;
        }
        prev = (alpha, q.f, d);
        alpha *= 2.0;
    }
    // Zoom phase (algorithm 3.6): lo always satisfies Armijo and has the lowest value seen.
    while evals < max_evals {
        let trial = interpolate(lo, hi);
        let (q, d) = at(trial);
        evals += 1;
        if !q.f.is_finite() || !armijo(trial, q.f) || q.f >= lo.1 {
            hi = (trial, q.f, d);
        } else {
            if curvature(d) {
                return Some(q);
            }
            if d * (hi.0 - lo.0) >= 0.0 {
                hi = lo;
            }
            lo = (trial, q.f, d);
        }
        if (hi.0 - lo.0).abs() <= 1e-14 * lo.0.abs().max(1e-300) {
            break;
        }
    }
    // Accept the best Armijo point found if it made progress at all.
    if lo.0 > 0.0 && lo.1 < p.f {
        let x = p.x.iter().zip(dir).map(|(x, d)| x + lo.0 * d).collect();
        return Some(eval(x));
    }
    None
}

/// The minimizer of the cubic through two points with slopes, kept inside the middle 80 % of
/// the interval; bisection when the cubic is unusable.
fn interpolate(a: (f64, f64, f64), b: (f64, f64, f64)) -> f64 {
    let (lo, hi) = if a.0 < b.0 { (a.0, b.0) } else { (b.0, a.0) };
    let mid = 0.5 * (lo + hi);
    if !(a.1.is_finite() && b.1.is_finite() && a.2.is_finite() && b.2.is_finite()) {
        return mid;
    }
    let d1 = a.2 + b.2 - 3.0 * (a.1 - b.1) / (a.0 - b.0);
    let disc = d1 * d1 - a.2 * b.2;
    if disc < 0.0 {
        return mid;
    }
    let d2 = (b.0 - a.0).signum() * disc.sqrt();
    let t = b.0 - (b.0 - a.0) * (b.2 + d2 - d1) / (b.2 - a.2 + 2.0 * d2);
    let margin = 0.1 * (hi - lo);
    if t.is_finite() {
        t.clamp(lo + margin, hi - margin)
    } else {
        mid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rosenbrock_reaches_the_minimum() {
        let f = |x: &[f64], g: &mut [f64]| {
            let (a, b) = (x[0], x[1]);
            g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            g[1] = 200.0 * (b - a * a);
            (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
        };
        let opts = LbfgsOptions {
            gtol: 1e-8,
            ftol: 0.0,
            ..LbfgsOptions::default()
        };
        let m = minimize(f, vec![-1.2, 1.0], &opts);
        assert!(
            m.stop == Stop::Gradient || m.stop == Stop::LineSearch,
            "{m:?}"
        );
        assert!(
            (m.x[0] - 1.0).abs() < 1e-6 && (m.x[1] - 1.0).abs() < 1e-6,
            "{m:?}"
        );
        assert!(m.iterations < 100, "{m:?}");
    }

    #[test]
    fn an_ill_conditioned_quadratic_converges() {
        // f = sum_i c_i (x_i - i)^2 / 2 with condition number 1e3. A pure-Python L-BFGS
        // (m = 10) with exact line searches needs 140 iterations to reach max |g| <= 1e-9
        // from x = 0; Wolfe steps cost more iterations, not a different answer.
        let c: Vec<f64> = (0..50).map(|i| 10f64.powf(3.0 * i as f64 / 49.0)).collect();
        let f = |x: &[f64], g: &mut [f64]| {
            let mut v = 0.0;
            for i in 0..x.len() {
                let d = x[i] - i as f64;
                g[i] = c[i] * d;
                v += 0.5 * c[i] * d * d;
            }
            v
        };
        let opts = LbfgsOptions {
            gtol: 1e-9,
            ftol: 0.0,
            max_iter: 1000,
            ..LbfgsOptions::default()
        };
        let m = minimize(f, vec![0.0; 50], &opts);
        assert_eq!(m.stop, Stop::Gradient, "{m:?}");
        assert!(m.iterations < 500, "{m:?}");
        for (i, x) in m.x.iter().enumerate() {
            assert!((x - i as f64).abs() < 1e-9, "x[{i}] = {x}");
        }
    }

    #[test]
    fn max_iter_is_respected() {
        let f = |x: &[f64], g: &mut [f64]| {
            g[0] = 4.0 * x[0].powi(3);
            x[0].powi(4)
        };
        let opts = LbfgsOptions {
            max_iter: 3,
            gtol: 0.0,
            ftol: 0.0,
            ..LbfgsOptions::default()
        };
        let m = minimize(f, vec![3.0], &opts);
        assert_eq!((m.iterations, m.stop), (3, Stop::Iterations));
        assert!(m.value < 81.0);
    }
}
