//! The invariant checkers: test a batch of masks, drawn here or made elsewhere, against a list
//! of [`Invariant`]s and the official index conventions, and say which sample, token or window
//! broke which rule.
//!
//! Every mask is also held to the conventions all strategies share, whether or not it declares
//! anything: values 0 (kept) or 1 (removed); `ids_restore` a permutation that places the kept
//! tokens first; `ids_keep` the kept tokens in that order.
use super::invariant::{Conflict, Invariant, Unit};
use super::{Grid, Layout, Mask, MaskError};
use crate::Ratio;
use alloc::vec::Vec;
use core::fmt::{self, Display, Formatter};

/// A report keeps this many violations; the rest are only counted.
pub const REPORT_LIMIT: usize = 64;

/// A count violation lists at most this many tokens of its window.
pub const LISTED: usize = 8;

/// A batch of masks as raw tensors, as a file or another program holds them.
#[derive(Clone, Copy, Debug)]
pub struct Rows<'a> {
    /// Samples `N`.
    pub batch: usize,
    /// `[N, L]`: 0 = kept, 1 = removed; any other value is reported.
    pub mask: &'a [u8],
    /// `[N, K]`: the kept tokens in the order the encoder sees them, when given.
    pub ids_keep: Option<&'a [i64]>,
    /// `[N, L]`: where each token sits in the kept-then-removed order, when given.
    pub ids_restore: Option<&'a [i64]>,
}

/// A token of a sample, located on the layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Token {
    /// An image token; `frame` is given for videos only.
    Image {
        index: usize,
        frame: Option<usize>,
        row: usize,
        col: usize,
    },
    /// The text token at `position` of the text (token `index` of the sample).
    Text { index: usize, position: usize },
}

impl Token {
    /// Index of the token in the sample (raster order, frames, then text).
    pub fn index(&self) -> usize {
        match *self {
            Token::Image { index, .. } | Token::Text { index, .. } => index,
        }
    }
}

/// The unit of a sample a count was taken over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Place {
    /// All image tokens of the sample.
    Sample,
    /// One frame.
    Frame(usize),
    /// The window at (`row`, `col`) in windows of `size x size` tokens (of `frame`, for videos).
    Window {
        frame: Option<usize>,
        row: usize,
        col: usize,
        size: usize,
    },
    /// The text tokens.
    Text,
}

/// One broken rule: which sample, where, and which rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// A mask does not have one value per token (masks drawn by a strategy).
    Length {
        sample: usize,
        expected: usize,
        found: usize,
    },
    /// A mask value other than 0 (kept) or 1 (removed).
    NotBinary { sample: usize, token: Token },
    /// `token`'s `ids_restore` entry is out of range or repeats another token's, so
    /// `ids_restore` is not a permutation.
    IdsRestoreNotPermutation { sample: usize, token: Token },
    /// `ids_restore` places `token` among the first K positions (the kept ones) though the mask
    /// removes it, or after them though the mask keeps it (`kept`).
    IdsRestoreDisagrees {
        sample: usize,
        token: Token,
        kept: bool,
    },
    /// `ids_keep` has `found` entries where the mask keeps `expected` tokens.
    IdsKeepLength {
        sample: usize,
        expected: usize,
        found: usize,
    },
    /// `ids_keep[position]` is not a kept token, repeats one, or is not the token `ids_restore`
    /// puts at that position.
    IdsKeepDisagrees { sample: usize, position: usize },
    /// A count `invariant` is off in one unit of the sample. When a window keeps too many,
    /// `tokens` lists its kept tokens (the first [`LISTED`] of them).
    Count {
        sample: usize,
        invariant: Invariant,
        at: Place,
        kept: usize,
        expected: usize,
        tokens: Vec<Token>,
    },
    /// A window keeps another number of tokens than the sample's first window
    /// ([`Invariant::EqualPerWindow`]).
    UnequalWindows {
        sample: usize,
        invariant: Invariant,
        window: Place,
        kept: usize,
        first: usize,
    },
    /// `token` differs from the first token of its cell ([`Invariant::MasksWholeCells`]).
    SplitCell {
        sample: usize,
        invariant: Invariant,
        token: Token,
    },
    /// `token` (in a later frame) differs from the same position in frame 0
    /// ([`Invariant::ConstantAlongTime`]).
    ChangesOverTime { sample: usize, token: Token },
    /// `token` differs from sample 0's ([`Invariant::SharedByBatch`]).
    DiffersAcrossBatch { sample: usize, token: Token },
    /// `token` differs between `sample` and its partner `N - 1 - sample`, so one image's token
    /// appears twice in the pair and the other's not at all ([`Invariant::ComplementaryPairs`]).
    NotComplementary {
        sample: usize,
        partner: usize,
        token: Token,
    },
    /// `ids_keep[position]` does not come after `ids_keep[position - 1]` in raster order
    /// ([`Invariant::KeptInRasterOrder`]).
    KeptOutOfOrder { sample: usize, position: usize },
}

impl Violation {
    /// The sample (row of the batch) that breaks the rule.
    pub fn sample(&self) -> usize {
        match *self {
            Violation::Length { sample, .. }
            | Violation::NotBinary { sample, .. }
            | Violation::IdsRestoreNotPermutation { sample, .. }
            | Violation::IdsRestoreDisagrees { sample, .. }
            | Violation::IdsKeepLength { sample, .. }
            | Violation::IdsKeepDisagrees { sample, .. }
            | Violation::Count { sample, .. }
            | Violation::UnequalWindows { sample, .. }
            | Violation::SplitCell { sample, .. }
            | Violation::ChangesOverTime { sample, .. }
            | Violation::DiffersAcrossBatch { sample, .. }
            | Violation::NotComplementary { sample, .. }
            | Violation::KeptOutOfOrder { sample, .. } => sample,
        }
    }

    /// The tokens that break the rule: one for a token-level rule, the kept tokens of a
    /// window that keeps too many, none for a count over a whole sample, frame or text.
    pub fn tokens(&self) -> Vec<Token> {
        match self {
            Violation::NotBinary { token, .. }
            | Violation::IdsRestoreNotPermutation { token, .. }
            | Violation::IdsRestoreDisagrees { token, .. }
            | Violation::SplitCell { token, .. }
            | Violation::ChangesOverTime { token, .. }
            | Violation::DiffersAcrossBatch { token, .. }
            | Violation::NotComplementary { token, .. } => alloc::vec![*token],
            Violation::Count { tokens, .. } => tokens.clone(),
            _ => Vec::new(),
        }
    }

    /// The declared invariant broken; `None` for the conventions every mask keeps.
    pub fn invariant(&self) -> Option<Invariant> {
        match *self {
            Violation::Count { invariant, .. }
            | Violation::UnequalWindows { invariant, .. }
            | Violation::SplitCell { invariant, .. } => Some(invariant),
            Violation::ChangesOverTime { .. } => Some(Invariant::ConstantAlongTime),
            Violation::DiffersAcrossBatch { .. } => Some(Invariant::SharedByBatch),
            Violation::NotComplementary { .. } => Some(Invariant::ComplementaryPairs),
            Violation::KeptOutOfOrder { .. } => Some(Invariant::KeptInRasterOrder),
            _ => None,
        }
    }
}

/// What a check found: the first [`REPORT_LIMIT`] violations, how many there were in all, and
/// the declared invariants that could not be checked (ids_keep order without index tensors).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    violations: Vec<Violation>,
    total: usize,
    unchecked: Vec<Invariant>,
}

impl Report {
    /// No violation.
    pub fn is_clean(&self) -> bool {
        self.total == 0
    }

    /// The first violations, in the order found (sample by sample).
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// All violations, including those not kept.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Declared invariants the inputs did not allow to check.
    pub fn unchecked(&self) -> &[Invariant] {
        &self.unchecked
    }

    fn push(&mut self, v: Violation) {
        self.total += 1;
        if self.violations.len() < REPORT_LIMIT {
            self.violations.push(v);
        }
    }
}

/// Checks one batch of raw mask tensors over `layout` at `ratio` against `invariants` and the
/// shared conventions. An error when the inputs cannot be checked at all: tensors whose sizes do
/// not match the layout, a layout that cannot exist, or an invariant that cannot be laid on it
/// (a window that does not tile the grid).
pub fn check_rows(
    invariants: &[Invariant],
    layout: &Layout,
    ratio: Ratio,
    rows: &Rows,
) -> Result<Report, MaskError> {
    let ctx = Ctx::new(invariants, layout, ratio)?;
    let (n, len) = (rows.batch, ctx.len);
    if rows.mask.len() != n * len {
        return Err(MaskError::WrongLength {
            what: "mask",
            expected: n * len,
            got: rows.mask.len(),
        });
    }
    if let Some(r) = rows.ids_restore {
        if r.len() != n * len {
            return Err(MaskError::WrongLength {
                what: "ids_restore",
                expected: n * len,
                got: r.len(),
            });
        }
    }
    let keep_width = match rows.ids_keep {
        Some(k) if n == 0 || !k.len().is_multiple_of(n) => {
            return Err(MaskError::WrongLength {
                what: "ids_keep (a whole row per sample)",
                expected: n,
                got: k.len(),
            });
        }
        Some(k) => k.len() / n.max(1),
        None => 0,
    };
    let mut report = Report::default();
    let samples: Vec<&[u8]> = rows.mask.chunks(len.max(1)).take(n).collect();
    for (s, row) in samples.iter().enumerate() {
        let keep = rows
            .ids_keep
            .map(|k| &k[s * keep_width..(s + 1) * keep_width]);
        let restore = rows.ids_restore.map(|r| &r[s * len..(s + 1) * len]);
        ctx.sample(&mut report, s, row, keep, restore);
    }
    ctx.batch(&mut report, &samples);
    ctx.note_unchecked(
        &mut report,
        rows.ids_keep.is_some() || rows.ids_restore.is_some(),
    );
    Ok(report)
}

/// Checks masks drawn by a strategy (one batch, in sample order) over `layout` at `ratio`.
/// A mask of the wrong length is a [`Violation::Length`]; the rest as [`check_rows`].
pub fn check_masks(
    invariants: &[Invariant],
    layout: &Layout,
    ratio: Ratio,
    masks: &[Mask],
) -> Result<Report, MaskError> {
    let ctx = Ctx::new(invariants, layout, ratio)?;
    let mut report = Report::default();
    let mut samples: Vec<&[u8]> = Vec::with_capacity(masks.len());
    for (s, m) in masks.iter().enumerate() {
        if m.len() != ctx.len {
            report.push(Violation::Length {
                sample: s,
                expected: ctx.len,
                found: m.len(),
            });
            continue;
        }
        let keep: Vec<i64> = m.ids_keep().iter().map(|&i| i as i64).collect();
        let restore: Vec<i64> = m.ids_restore().iter().map(|&i| i as i64).collect();
        ctx.sample(&mut report, s, m.mask(), Some(&keep), Some(&restore));
        samples.push(m.mask());
    }
    if samples.len() == masks.len() {
        ctx.batch(&mut report, &samples);
    }
    Ok(report)
}

/// A layout and the invariants laid on it.
struct Ctx<'a> {
    invariants: &'a [Invariant],
    ratio: Ratio,
    grid: Grid,
    frames: usize,
    /// Image tokens.
    image: usize,
    /// All tokens.
    len: usize,
}

impl<'a> Ctx<'a> {
    fn new(invariants: &'a [Invariant], layout: &Layout, ratio: Ratio) -> Result<Self, MaskError> {
        let grid = layout.mask_grid()?;
        let ctx = Ctx {
            invariants,
            ratio,
            grid,
            frames: layout.frames,
            image: layout.image_tokens()?,
            len: layout.tokens()?,
        };
        // Every invariant must be layable on the grid; counts that disagree with each other are
        // not refused here: each is checked on its own and the masks break at least one.
        for inv in invariants {
            match inv.kept(grid.h, grid.w, ctx.frames, ratio) {
                Err(Conflict::Counts { .. }) | Ok(_) => {}
                Err(c) => return Err(MaskError::Unsatisfiable(c)),
            }
            if let Invariant::TextKeepsFloor { ratio: r } = *inv {
                if !r.in_open_unit_interval() {
                    return Err(MaskError::Unsatisfiable(Conflict::Ratio { ratio: r }));
                }
            }
        }
        Ok(ctx)
    }

    fn token(&self, index: usize) -> Token {
        if index >= self.image {
            return Token::Text {
                index,
                position: index - self.image,
            };
        }
        let per = self.grid.len();
        let (frame, at) = (index / per, index % per);
        Token::Image {
            index,
            frame: (self.frames > 1).then_some(frame),
            row: at / self.grid.w,
            col: at % self.grid.w,
        }
    }

    /// Raster indices of the `k x k` window (`wr`, `wc`) of `frame`.
    fn window(&self, frame: usize, k: usize, wr: usize, wc: usize) -> impl Iterator<Item = usize> {
        let (w, base) = (self.grid.w, frame * self.grid.len());
        (0..k).flat_map(move |r| (0..k).map(move |c| base + (wr * k + r) * w + wc * k + c))
    }

    /// Every `k x k` window of every frame: its place and tokens.
    fn windows(&self, k: usize) -> impl Iterator<Item = (Place, Vec<usize>)> + '_ {
        let (nh, nw) = (self.grid.h / k, self.grid.w / k);
        let frames = self.frames;
        (0..frames).flat_map(move |f| {
            (0..nh * nw).map(move |i| {
                let (row, col) = (i / nw, i % nw);
                let place = Place::Window {
                    frame: (frames > 1).then_some(f),
                    row,
                    col,
                    size: k,
                };
                (place, self.window(f, k, row, col).collect())
            })
        })
    }

    /// Compares the kept count of `tokens` with `expected`.
    #[allow(clippy::too_many_arguments)]
    fn count(
        &self,
        report: &mut Report,
        sample: usize,
        row: &[u8],
        invariant: Invariant,
        at: Place,
        tokens: impl IntoIterator<Item = usize>,
        expected: usize,
    ) {
        let kept_tokens: Vec<usize> = tokens.into_iter().filter(|&t| row[t] == 0).collect();
        let kept = kept_tokens.len();
        if kept != expected {
            // Which of a window's kept tokens is the extra one is a matter of choice: name them.
            let listed = match at {
                Place::Window { .. } if kept > expected => kept_tokens
                    .iter()
                    .take(LISTED)
                    .map(|&t| self.token(t))
                    .collect(),
                _ => Vec::new(),
            };
            report.push(Violation::Count {
                sample,
                invariant,
                at,
                kept,
                expected,
                tokens: listed,
            });
        }
    }

    /// The conventions and per-sample invariants of sample `s`.
    fn sample(
        &self,
        report: &mut Report,
        s: usize,
        row: &[u8],
        ids_keep: Option<&[i64]>,
        ids_restore: Option<&[i64]>,
    ) {
        for (i, &v) in row.iter().enumerate() {
            if v > 1 {
                report.push(Violation::NotBinary {
                    sample: s,
                    token: self.token(i),
                });
            }
        }
        let restore_ok = ids_restore.is_some_and(|r| self.check_restore(report, s, row, r));
        if let Some(keep) = ids_keep {
            self.check_keep(report, s, row, keep, ids_restore.filter(|_| restore_ok));
        }
        let (gl, r) = (self.grid.len(), self.ratio);
        for &inv in self.invariants {
            match inv {
                Invariant::KeepsFloor(unit) | Invariant::MasksFloor(unit) => {
                    let per = |n: usize| match inv {
                        Invariant::KeepsFloor(_) => r.keep_of(n),
                        _ => n - r.masked_of(n),
                    };
                    match unit {
                        Unit::Whole => self.count(
                            report,
                            s,
                            row,
                            inv,
                            Place::Sample,
                            0..self.image,
                            per(self.image),
                        ),
                        Unit::Frame => {
                            for f in 0..self.frames {
                                let tokens = f * gl..(f + 1) * gl;
                                self.count(report, s, row, inv, Place::Frame(f), tokens, per(gl));
                            }
                        }
                        Unit::Window(k) => {
                            for (place, tokens) in self.windows(k) {
                                self.count(report, s, row, inv, place, tokens, per(k * k));
                            }
                        }
                    }
                }
                Invariant::VisiblePerWindow { window, visible } => {
                    for (place, tokens) in self.windows(window) {
                        self.count(report, s, row, inv, place, tokens, visible);
                    }
                }
                Invariant::EqualPerWindow { window } => {
                    let mut first = None;
                    for (place, tokens) in self.windows(window) {
                        let kept = tokens.iter().filter(|&&t| row[t] == 0).count();
                        match first {
                            None => first = Some(kept),
                            Some(f) if f != kept => report.push(Violation::UnequalWindows {
                                sample: s,
                                invariant: inv,
                                window: place,
                                kept,
                                first: f,
                            }),
                            Some(_) => {}
                        }
                    }
                }
                Invariant::MasksWholeCells { cell } => {
                    for (_, tokens) in self.windows(cell) {
                        let head = row[tokens[0]];
                        if let Some(&t) = tokens.iter().find(|&&t| row[t] != head) {
                            report.push(Violation::SplitCell {
                                sample: s,
                                invariant: inv,
                                token: self.token(t),
                            });
                        }
                    }
                    if let Ok(Some(expected)) = inv.kept(self.grid.h, self.grid.w, self.frames, r) {
                        self.count(report, s, row, inv, Place::Sample, 0..self.image, expected);
                    }
                }
                Invariant::ConstantAlongTime => {
                    for i in gl..self.image {
                        if row[i] != row[i % gl] {
                            report.push(Violation::ChangesOverTime {
                                sample: s,
                                token: self.token(i),
                            });
                        }
                    }
                }
                Invariant::KeptInRasterOrder => {
                    self.check_raster(report, s, row, ids_keep, ids_restore)
                }
                Invariant::TextKeepsFloor { ratio } => {
                    let expected = ratio.keep_of(self.len - self.image);
                    self.count(
                        report,
                        s,
                        row,
                        inv,
                        Place::Text,
                        self.image..self.len,
                        expected,
                    );
                }
                Invariant::SharedByBatch | Invariant::ComplementaryPairs => {}
            }
        }
    }

    /// `ids_restore` against the mask; true when it is a permutation.
    fn check_restore(&self, report: &mut Report, s: usize, row: &[u8], restore: &[i64]) -> bool {
        let len = row.len();
        let mut seen = alloc::vec![false; len];
        let mut ok = true;
        for (t, &p) in restore.iter().enumerate() {
            match usize::try_from(p) {
                Ok(p) if p < len && !seen[p] => seen[p] = true,
                _ => {
                    ok = false;
                    report.push(Violation::IdsRestoreNotPermutation {
                        sample: s,
                        token: self.token(t),
                    });
                }
            }
        }
        if ok {
            let k = row.iter().filter(|&&v| v == 0).count();
            for (t, &p) in restore.iter().enumerate() {
                let kept = row[t] == 0;
                if kept != ((p as usize) < k) {
                    report.push(Violation::IdsRestoreDisagrees {
                        sample: s,
                        token: self.token(t),
                        kept,
                    });
                }
            }
        }
        ok
    }

    /// `ids_keep` against the mask and, when it is a permutation, `ids_restore`.
    fn check_keep(
        &self,
        report: &mut Report,
        s: usize,
        row: &[u8],
        keep: &[i64],
        restore: Option<&[i64]>,
    ) {
        let kept = row.iter().filter(|&&v| v == 0).count();
        if keep.len() != kept {
            report.push(Violation::IdsKeepLength {
                sample: s,
                expected: kept,
                found: keep.len(),
            });
        }
        let mut seen = alloc::vec![false; row.len()];
        for (j, &t) in keep.iter().enumerate() {
            let fits = match usize::try_from(t) {
                Ok(t) if t < row.len() && row[t] == 0 && !seen[t] => {
                    seen[t] = true;
                    restore.is_none_or(|r| r[t] == j as i64)
                }
                _ => false,
            };
            if !fits {
                report.push(Violation::IdsKeepDisagrees {
                    sample: s,
                    position: j,
                });
            }
        }
    }

    /// Kept tokens in raster order: read from `ids_keep`, else from the `ids_restore` order.
    fn check_raster(
        &self,
        report: &mut Report,
        s: usize,
        row: &[u8],
        keep: Option<&[i64]>,
        restore: Option<&[i64]>,
    ) {
        let order: Vec<i64> = match (keep, restore) {
            (Some(k), _) => k.to_vec(),
            (None, Some(r)) => {
                // The kept tokens sorted by their position in the shuffled order.
                let mut kept: Vec<(i64, i64)> = (0..row.len())
                    .filter(|&t| row[t] == 0)
                    .map(|t| (r[t], t as i64))
                    .collect();
                kept.sort_unstable();
                kept.into_iter().map(|(_, t)| t).collect()
            }
            (None, None) => return,
        };
        for j in 1..order.len() {
            if order[j] <= order[j - 1] {
                report.push(Violation::KeptOutOfOrder {
                    sample: s,
                    position: j,
                });
            }
        }
    }

    /// The invariants across samples.
    fn batch(&self, report: &mut Report, samples: &[&[u8]]) {
        let n = samples.len();
        for &inv in self.invariants {
            match inv {
                Invariant::SharedByBatch => {
                    for (s, row) in samples.iter().enumerate().skip(1) {
                        for t in 0..self.len {
                            if row[t] != samples[0][t] {
                                report.push(Violation::DiffersAcrossBatch {
                                    sample: s,
                                    token: self.token(t),
                                });
                            }
                        }
                    }
                }
                Invariant::ComplementaryPairs => {
                    for s in 0..n / 2 {
                        let partner = n - 1 - s;
                        let pair = samples[s].iter().zip(samples[partner].iter());
                        for (t, (a, b)) in pair.take(self.image).enumerate() {
                            if a != b {
                                report.push(Violation::NotComplementary {
                                    sample: s,
                                    partner,
                                    token: self.token(t),
                                });
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Records the invariants the inputs leave unchecked.
    fn note_unchecked(&self, report: &mut Report, has_ids: bool) {
        if !has_ids && self.invariants.contains(&Invariant::KeptInRasterOrder) {
            report.unchecked.push(Invariant::KeptInRasterOrder);
        }
    }
}

impl Display for Token {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match *self {
            Token::Image {
                index,
                frame: Some(frame),
                row,
                col,
            } => write!(f, "token {index} (frame {frame}, row {row}, col {col})"),
            Token::Image {
                index, row, col, ..
            } => write!(f, "token {index} (row {row}, col {col})"),
            Token::Text { index, position } => {
                write!(f, "token {index} (text position {position})")
            }
        }
    }
}

impl Display for Place {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match *self {
            Place::Sample => f.write_str("its image tokens"),
            Place::Frame(frame) => write!(f, "frame {frame}"),
            Place::Window {
                frame,
                row,
                col,
                size,
            } => {
                write!(f, "{size}x{size} window ({row}, {col})")?;
                match frame {
                    Some(frame) => write!(f, " of frame {frame}"),
                    None => Ok(()),
                }
            }
            Place::Text => f.write_str("its text tokens"),
        }
    }
}

impl Display for Violation {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "sample {}", self.sample())?;
        match self {
            Violation::Length {
                expected, found, ..
            } => write!(
                f,
                ": the mask has {found} values, expected {expected} (one per token)"
            ),
            Violation::NotBinary { token, .. } => {
                write!(f, ", {token}: a value other than 0 (kept) or 1 (removed)")
            }
            Violation::IdsRestoreNotPermutation { token, .. } => write!(
                f,
                ", {token}: its ids_restore entry is out of range or repeats another token's, so \
                 ids_restore is not a permutation"
            ),
            Violation::IdsRestoreDisagrees {
                token, kept: true, ..
            } => write!(
                f,
                ", {token}: the mask keeps it but ids_restore places it among the removed tokens"
            ),
            Violation::IdsRestoreDisagrees { token, .. } => write!(
                f,
                ", {token}: the mask removes it but ids_restore places it among the kept tokens"
            ),
            Violation::IdsKeepLength {
                expected, found, ..
            } => write!(
                f,
                ": ids_keep lists {found} tokens but the mask keeps {expected}"
            ),
            Violation::IdsKeepDisagrees { position, .. } => write!(
                f,
                ": ids_keep[{position}] is not a kept token, repeats one, or is not the token \
                 ids_restore puts at position {position}"
            ),
            Violation::Count {
                invariant,
                at,
                kept,
                expected,
                tokens,
                ..
            } => {
                match at {
                    Place::Sample => write!(f, ": keeps {kept} tokens, expected {expected}")?,
                    at => write!(f, ", {at}: keeps {kept} tokens, expected {expected}")?,
                }
                for (i, t) in tokens.iter().enumerate() {
                    f.write_str(if i == 0 { ": " } else { ", " })?;
                    write!(f, "{t}")?;
                }
                if *kept > tokens.len() && !tokens.is_empty() {
                    f.write_str(", ...")?;
                }
                write!(f, " [{invariant}]")
            }
            Violation::UnequalWindows {
                invariant,
                window,
                kept,
                first,
                ..
            } => write!(
                f,
                ", {window}: keeps {kept} tokens where the first window keeps {first} \
                 [{invariant}]"
            ),
            Violation::SplitCell {
                invariant, token, ..
            } => write!(
                f,
                ", {token}: differs from the first token of its cell [{invariant}]"
            ),
            Violation::ChangesOverTime { token, .. } => write!(
                f,
                ", {token}: differs from frame 0 [{}]",
                Invariant::ConstantAlongTime
            ),
            Violation::DiffersAcrossBatch { token, .. } => write!(
                f,
                ", {token}: differs from sample 0 [{}]",
                Invariant::SharedByBatch
            ),
            Violation::NotComplementary { partner, token, .. } => write!(
                f,
                ", {token}: differs from partner sample {partner}, so one image's token appears \
                 twice in the pair and the other's not at all [{}]",
                Invariant::ComplementaryPairs
            ),
            Violation::KeptOutOfOrder { position, .. } => write!(
                f,
                ": ids_keep[{position}] does not come after ids_keep[{}] [{}]",
                position - 1,
                Invariant::KeptInRasterOrder
            ),
        }
    }
}

impl Display for Report {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.is_clean() {
            return f.write_str("no violation");
        }
        for v in &self.violations {
            writeln!(f, "{v}")?;
        }
        let more = self.total - self.violations.len();
        if more > 0 {
            writeln!(f, "... and {more} more")?;
        }
        write!(
            f,
            "{} violation{}",
            self.total,
            if self.total == 1 { "" } else { "s" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    const R34: Ratio = Ratio::of(3, 4);
    const UNIFORM: [Invariant; 2] = [
        Invariant::VisiblePerWindow {
            window: 2,
            visible: 1,
        },
        Invariant::KeptInRasterOrder,
    ];

    fn rows(mask: &[u8], batch: usize) -> Rows<'_> {
        Rows {
            batch,
            mask,
            ids_keep: None,
            ids_restore: None,
        }
    }

    #[test]
    fn a_uniform_mask_is_clean_and_a_doubled_block_names_the_extra_token() {
        let layout = Layout::image(Grid::new(4, 4));
        #[rustfmt::skip]
        let good = [
            0, 1, 1, 0,
            1, 1, 1, 1,
            1, 1, 1, 1,
            1, 0, 0, 1,
        ];
        assert!(check_rows(&UNIFORM, &layout, R34, &rows(&good, 1))
            .unwrap()
            .is_clean());
        // Token 5 (row 1, col 1) also kept: block (0, 0) keeps two.
        let mut bad = good;
        bad[5] = 0;
        let report = check_rows(&UNIFORM, &layout, R34, &rows(&bad, 1)).unwrap();
        assert_eq!(
            report.violations(),
            &[Violation::Count {
                sample: 0,
                invariant: UNIFORM[0],
                at: Place::Window {
                    frame: None,
                    row: 0,
                    col: 0,
                    size: 2
                },
                kept: 2,
                expected: 1,
                tokens: vec![
                    Token::Image {
                        index: 0,
                        frame: None,
                        row: 0,
                        col: 0
                    },
                    Token::Image {
                        index: 5,
                        frame: None,
                        row: 1,
                        col: 1
                    }
                ],
            }]
        );
        let text = alloc::format!("{report}");
        assert!(
            text.starts_with(
                "sample 0, 2x2 window (0, 0): keeps 2 tokens, expected 1: token 0 (row 0, col 0), \
                 token 5 (row 1, col 1) [keeps exactly 1 token of every 2x2 window]"
            ),
            "{text}"
        );
    }

    #[test]
    fn index_tensors_must_follow_the_official_convention() {
        let layout = Layout::image(Grid::new(1, 4));
        let invariants = [Invariant::KeepsFloor(Unit::Whole)];
        // MAE: noise [.5, .1, .9, .3] -> ids_shuffle [1, 3, 0, 2], keep 1 at ratio 3/4.
        let mask = [1, 0, 1, 1];
        let good = Rows {
            batch: 1,
            mask: &mask,
            ids_keep: Some(&[1]),
            ids_restore: Some(&[2, 0, 3, 1]),
        };
        assert!(check_rows(&invariants, &layout, R34, &good)
            .unwrap()
            .is_clean());
        let repeated = Rows {
            ids_restore: Some(&[2, 0, 2, 1]),
            ..good
        };
        let v = check_rows(&invariants, &layout, R34, &repeated).unwrap();
        assert!(matches!(
            v.violations(),
            [Violation::IdsRestoreNotPermutation {
                token: Token::Image { index: 2, .. },
                ..
            }]
        ));
        // Token 1 is kept but placed after the kept position; token 3 the other way round.
        let swapped = Rows {
            ids_keep: Some(&[3]),
            ids_restore: Some(&[2, 1, 3, 0]),
            ..good
        };
        let v = check_rows(&invariants, &layout, R34, &swapped).unwrap();
        assert_eq!(
            v.violations()
                .iter()
                .map(|v| (v.tokens().iter().map(Token::index).collect(), v.invariant()))
                .collect::<Vec<(Vec<usize>, _)>>(),
            vec![(vec![1], None), (vec![3], None), (vec![], None)]
        );
        assert!(matches!(
            v.violations()[2],
            Violation::IdsKeepDisagrees { position: 0, .. }
        ));
        let not_binary = [1, 0, 2, 1];
        let v = check_rows(&invariants, &layout, R34, &rows(&not_binary, 1)).unwrap();
        assert!(matches!(
            v.violations(),
            [Violation::NotBinary {
                token: Token::Image { index: 2, .. },
                ..
            }]
        ));
    }

    #[test]
    fn tubes_pairs_cells_and_text_each_name_their_rule() {
        // Two frames of 1x2; frame 1 differs at its column 1.
        let tube = [Invariant::ConstantAlongTime];
        let v = check_rows(
            &tube,
            &Layout::video(Grid::new(1, 2), 2),
            R34,
            &rows(&[0, 1, 0, 0], 1),
        )
        .unwrap();
        assert_eq!(
            v.violations(),
            &[Violation::ChangesOverTime {
                sample: 0,
                token: Token::Image {
                    index: 3,
                    frame: Some(1),
                    row: 0,
                    col: 1
                }
            }]
        );
        // MixMIM mixing: x (1 - m) + x.flip(0) m. With masks that agree, every token of both
        // images of a pair is used exactly once; where they differ, once twice and once never.
        let pairs = [Invariant::ComplementaryPairs];
        let layout = Layout::image(Grid::new(1, 3));
        for (masks, clean) in [([0u8, 1, 1, 0, 1, 1], true), ([0, 1, 1, 0, 0, 1], false)] {
            let mut uses = [0; 6];
            for i in 0..2 {
                for t in 0..3 {
                    let source = if masks[i * 3 + t] == 1 { 1 - i } else { i };
                    uses[source * 3 + t] += 1;
                }
            }
            assert_eq!(uses.iter().all(|&u| u == 1), clean);
            let report = check_rows(&pairs, &layout, R34, &rows(&masks, 2)).unwrap();
            assert_eq!(report.is_clean(), clean);
        }
        // 2x2 cells of a 2x4 grid, 1/2 of the 2 cells removed; the right cell is split.
        let cells = [Invariant::MasksWholeCells { cell: 2 }];
        let layout = Layout::image(Grid::new(2, 4));
        let split = [1, 1, 0, 0, 1, 1, 0, 1];
        let v = check_rows(&cells, &layout, Ratio::of(1, 2), &rows(&split, 1)).unwrap();
        assert!(matches!(
            v.violations(),
            [
                Violation::SplitCell {
                    token: Token::Image { index: 7, .. },
                    ..
                },
                Violation::Count {
                    kept: 3,
                    expected: 4,
                    ..
                }
            ]
        ));
        // Text: 4 image then 4 text tokens, text keeps floor(4 / 2) = 2.
        let text = [Invariant::TextKeepsFloor {
            ratio: Ratio::of(1, 2),
        }];
        let layout = Layout::image(Grid::new(2, 2)).with_text(4);
        let v = check_rows(&text, &layout, R34, &rows(&[0, 1, 1, 1, 0, 0, 0, 1], 1)).unwrap();
        assert!(matches!(
            v.violations(),
            [Violation::Count {
                at: Place::Text,
                kept: 3,
                expected: 2,
                ..
            }]
        ));
    }

    #[test]
    fn layouts_that_cannot_carry_the_invariants_are_errors_not_violations() {
        let odd = Layout::image(Grid::new(3, 3));
        assert_eq!(
            check_rows(&UNIFORM, &odd, R34, &rows(&[0; 9], 1)),
            Err(MaskError::Unsatisfiable(Conflict::Tiling {
                size: 2,
                h: 3,
                w: 3
            }))
        );
        let layout = Layout::image(Grid::new(2, 2));
        assert!(matches!(
            check_rows(&UNIFORM, &layout, R34, &rows(&[0; 5], 1)),
            Err(MaskError::WrongLength { what: "mask", .. })
        ));
    }

    #[test]
    fn strategies_masks_are_checked_with_their_index_tensors() {
        let layout = Layout::image(Grid::new(2, 4));
        let a = Mask::from_binary(&[0, 1, 1, 1, 1, 1, 0, 1]).unwrap();
        let b = Mask::from_shuffle(vec![6, 0, 1, 2, 3, 4, 5, 7], 2).unwrap();
        let report = check_masks(&UNIFORM, &layout, R34, &[a.clone(), b]).unwrap();
        // b keeps 6 then 0: block (0, 0) and (0, 1) fine, but not in raster order.
        assert_eq!(
            report.violations(),
            &[Violation::KeptOutOfOrder {
                sample: 1,
                position: 1
            }]
        );
        let short = Mask::from_binary(&[0, 1, 1, 1]).unwrap();
        let report = check_masks(&UNIFORM, &layout, R34, &[a, short]).unwrap();
        assert_eq!(
            report.violations(),
            &[Violation::Length {
                sample: 1,
                expected: 8,
                found: 4
            }]
        );
    }

    #[test]
    fn reports_keep_the_first_violations_and_count_all() {
        let layout = Layout::image(Grid::new(1, 200));
        let mask = [2u8; 200];
        let report = check_rows(&[], &layout, R34, &rows(&mask, 1)).unwrap();
        assert_eq!(report.total(), 200);
        assert_eq!(report.violations().len(), REPORT_LIMIT);
        assert!(alloc::format!("{report}").ends_with("... and 136 more\n200 violations"));
    }
}
