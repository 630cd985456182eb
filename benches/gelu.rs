//! GELU kernel benchmark: hark's exact GELU (`hark::model::gelu`) against tract's erf on the same
//! 1M values in [−5, 5], one thread, three rounds.
//!
//! `cargo bench --bench gelu`
//!
//! tract's own GELU op runs that erf plus two element-wise passes around it, so its erf alone is
//! a lower bound for what hark's kernel replaces.

use std::time::Instant;

use hark::model::gelu::gelu_in_place;

fn main() {
    let fresh = || -> Vec<f32> {
        (0..1 << 20)
            .map(|i| (i % 2000) as f32 * 0.005 - 5.0)
            .collect()
    };
    let tract_erf = tract_linalg::routines::Func::Erf.ew_f32().unwrap();
    for round in 0..3 {
        let mut xs = fresh();
        let t = Instant::now();
        gelu_in_place(&mut xs);
        let ours = t.elapsed();
        std::hint::black_box(&xs);
        let mut xs = fresh();
        let t = Instant::now();
        tract_erf.run(&mut xs).unwrap();
        let theirs = t.elapsed();
        std::hint::black_box(&xs);
        println!("round {round}: hark gelu {ours:?}, tract erf {theirs:?} per 1M values");
    }
}
