//! `--limit N`: N samples of a data set with the classes balanced. Data sets are stored class
//! after class (a folder's sub-folders, in name order), so the first N samples would be one or
//! two classes only; instead the subset takes the first image of every class, then the second
//! of every class, and so on, until N are chosen (a class with fewer images simply runs out).
use std::sync::Arc;

use super::{DataError, Dataset, Image, Skipped};

/// A class-balanced part of another data set, in the data set's order.
pub struct Subset {
    inner: Arc<dyn Dataset>,
    /// Indices into `inner`, ascending.
    picked: Vec<usize>,
}

impl Subset {
    /// `n` samples of `inner` (all of them if it has fewer), taken class by class in turns.
    pub fn balanced(inner: Arc<dyn Dataset>, n: usize) -> Self {
        let classes = inner.classes().len().max(1);
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
        for i in 0..inner.len() {
            let label = (inner.label(i) as usize).min(classes - 1);
            by_class[label].push(i);
        }
        let n = n.min(inner.len());
        let mut picked = Vec::with_capacity(n);
        let mut round = 0;
        while picked.len() < n {
            for members in &by_class {
                if picked.len() == n {
                    break;
                }
                if let Some(&i) = members.get(round) {
                    picked.push(i);
                }
            }
            round += 1;
        }
        picked.sort_unstable();
        Subset { inner, picked }
    }

    /// How many samples of each class were taken, in class order.
    pub fn per_class(&self) -> Vec<usize> {
        let mut counts = vec![0; self.inner.classes().len().max(1)];
        for &i in &self.picked {
            let label = (self.inner.label(i) as usize).min(counts.len() - 1);
            counts[label] += 1;
        }
        counts
    }

    /// One line for the user: how many of how many, and the share per class.
    pub fn summary(&self) -> String {
        let counts = self.per_class();
        let (lo, hi) = (
            counts.iter().copied().min().unwrap_or(0),
            counts.iter().copied().max().unwrap_or(0),
        );
        let share = if counts.len() == 1 {
            String::new()
        } else if lo == hi {
            format!(", {lo} of each of the {} classes", counts.len())
        } else if hi - lo == 1 {
            format!(", {lo} or {hi} of each of the {} classes", counts.len())
        } else {
            format!(
                ", {lo} to {hi} per class over {} classes (some classes have fewer images)",
                counts.len()
            )
        };
        format!(
            "{} of {} images{share}",
            self.picked.len(),
            self.inner.len()
        )
    }
}

impl Dataset for Subset {
    fn len(&self) -> usize {
        self.picked.len()
    }

    fn label(&self, index: usize) -> u32 {
        self.inner.label(self.picked[index])
    }

    fn classes(&self) -> &[String] {
        self.inner.classes()
    }

    fn channels(&self) -> usize {
        self.inner.channels()
    }

    fn describe(&self, index: usize) -> String {
        self.inner.describe(self.picked[index])
    }

    fn load(&self, index: usize) -> Result<Image, DataError> {
        self.inner.load(self.picked[index])
    }

    fn skipped(&self) -> Vec<Skipped> {
        self.inner.skipped()
    }

    fn name(&self) -> String {
        format!(
            "{} ({} of them, classes balanced)",
            self.inner.name(),
            self.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Labels stored class after class, like a folder: 6 of class 0, 3 of class 1, 5 of 2.
    struct Sorted(Vec<u32>, Vec<String>);

    impl Dataset for Sorted {
        fn len(&self) -> usize {
            self.0.len()
        }
        fn label(&self, index: usize) -> u32 {
            self.0[index]
        }
        fn classes(&self) -> &[String] {
            &self.1
        }
        fn channels(&self) -> usize {
            1
        }
        fn describe(&self, index: usize) -> String {
            format!("#{index}")
        }
        fn load(&self, _: usize) -> Result<Image, DataError> {
            Image::new(1, 1, 1, vec![0])
        }
        fn name(&self) -> String {
            "sorted".into()
        }
    }

    fn sorted() -> Arc<dyn Dataset> {
        let labels = [vec![0; 6], vec![1; 3], vec![2; 5]].concat();
        Arc::new(Sorted(labels, vec!["a".into(), "b".into(), "c".into()]))
    }

    #[test]
    fn takes_classes_in_turns_not_the_first_files() {
        let s = Subset::balanced(sorted(), 6);
        assert_eq!(s.per_class(), [2, 2, 2]);
        // The first two of each class, in the data set's order.
        assert_eq!(s.picked, [0, 1, 6, 7, 9, 10]);
        assert!(
            s.summary().contains("2 of each of the 3 classes"),
            "{}",
            s.summary()
        );
        let s = Subset::balanced(sorted(), 8);
        assert!(s.summary().contains("2 or 3 of each"), "{}", s.summary());
        // Class 1 runs out after 3; the others share the rest.
        let s = Subset::balanced(sorted(), 12);
        assert_eq!(s.per_class(), [5, 3, 4]);
        assert!(s.summary().contains("3 to 5 per class"), "{}", s.summary());
        assert_eq!(Subset::balanced(sorted(), 100).len(), 14);
        let s = Subset::balanced(sorted(), 7);
        assert_eq!(s.per_class(), [3, 2, 2]);
        assert_eq!(
            (0..s.len()).map(|i| s.label(i)).collect::<Vec<_>>(),
            [0, 0, 0, 1, 1, 2, 2]
        );
    }
}
