//! Floating-point operations of a graph, counted from its static shapes: the matrix products
//! (2 per multiply-add) and attention (its two products), which are nearly all of a
//! transformer's arithmetic; elementwise work and normalization are left out.
use tessera_dsl::graph::{Graph, Op};

/// FLOPs of the matrix products and attentions of `graph`.
pub fn graph_flops(graph: &Graph) -> f64 {
    let mut total = 0.0;
    for node in graph.nodes() {
        let shape = |i: usize| graph.shape(node.inputs[i]);
        match node.op {
            Op::MatMul { trans_a, .. } | Op::MatMulBias { trans_a, .. } => {
                let a = shape(0);
                let k = if trans_a {
                    a[a.len() - 2]
                } else {
                    a[a.len() - 1]
                };
                total += 2.0 * node.numel() as f64 * k as f64;
            }
            Op::Attention { .. } => {
                // q [.., Lq, d], k [.., Lk, d], v [.., Lk, dv]: q kᵀ, then p v.
                let (q, k, v) = (shape(0), shape(1), shape(2));
                let lead: usize = q[..q.len() - 2].iter().product();
                let (lq, d) = (q[q.len() - 2], q[q.len() - 1]);
                let (lk, dv) = (k[k.len() - 2], v[v.len() - 1]);
                total += 2.0 * (lead * lq * lk * (d + dv)) as f64;
            }
            Op::SelfAttention { .. } => {
                // qkv [B, L, 3·D] → [B, L, D]: q kᵀ and p v over every head, 2·L·L·D each.
                let qkv = shape(0);
                let (b, l, d) = (qkv[0], qkv[1], qkv[2] / 3);
                total += 4.0 * (b * l * l * d) as f64;
            }
            _ => {}
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_products_and_attention_from_shapes() {
        let mut g = Graph::new();
        let x = g.input("x", &[2, 5, 8]).unwrap();
        let w = g.param("w", &[3, 8], true).unwrap();
        // [2, 5, 8] x [8, 3]: 2*5*3 outputs of 8 multiply-adds.
        let y = g.matmul(x, w, false, true).unwrap();
        let q = g.input("q", &[2, 4, 6, 16]).unwrap();
        let k = g.input("k", &[2, 4, 7, 16]).unwrap();
        let v = g.input("v", &[2, 4, 7, 16]).unwrap();
        g.attention(q, k, v, None, 0.25).unwrap();
        let _ = y;
        let expect = 2.0 * 30.0 * 8.0 + 2.0 * (8 * 6 * 7 * 32) as f64;
        assert_eq!(graph_flops(&g), expect);
    }
}
