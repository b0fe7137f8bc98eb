// A per-sample [4, 3] · [5, 6] product: the inner dimensions (3 and 5) differ, so the typed
// matmul must not compile.
use tessera_dsl::graph::Graph;

fn main() {
    let mut g = Graph::new();
    let a = g.input2::<4, 3>("a", 2).unwrap();
    let b = g.input2::<5, 6>("b", 2).unwrap();
    let _ = g.matmul_t(a, b);
}
