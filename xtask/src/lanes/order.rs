//! Cell order. Running all repeats of one size, then the next, confounds
//! size with time (drift, a neighbour's load, page-cache state). Each repeat
//! is a block holding every level once, in a seeded random order.

use rand::seq::SliceRandom;
use rand::SeedableRng;

/// `(repeat, level index)` pairs: repeat-major blocks, levels shuffled
/// within each block with a seeded RNG (reproducible from run.json's seed).
pub fn blocked(levels: usize, repeats: u32, seed: u64) -> Vec<(u32, usize)> {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let mut out = Vec::with_capacity(levels * repeats as usize);
    for r in 0..repeats {
        let mut idx: Vec<usize> = (0..levels).collect();
        idx.shuffle(&mut rng);
        out.extend(idx.into_iter().map(|i| (r, i)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_level_once_per_block_and_seeded() {
        let o = blocked(5, 3, 42);
        assert_eq!(o.len(), 15);
        for r in 0..3 {
            let mut lv: Vec<usize> = o
                .iter()
                .filter(|(rr, _)| *rr == r)
                .map(|(_, l)| *l)
                .collect();
            lv.sort_unstable();
            assert_eq!(lv, vec![0, 1, 2, 3, 4]);
        }
        assert_eq!(o, blocked(5, 3, 42));
        assert_ne!(o, blocked(5, 3, 43));
        // Not simply ascending in every block.
        assert!(o.chunks(5).any(|c| c.windows(2).any(|w| w[1].1 < w[0].1)));
    }
}
