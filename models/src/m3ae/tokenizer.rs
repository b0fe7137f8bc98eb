//! Captions to token ids as M3AE's data loader makes them (`BertTokenizer(caption,
//! padding="max_length", truncation=True, max_length=T, add_special_tokens=False)`): BERT's
//! normalizer (lower case, accents stripped) and pre-tokenizer, WordPiece with `##`
//! continuations, no `[CLS]`/`[SEP]`, padded with `[PAD]` = id 0 at the end.
//!
//! The vocabulary is a Hugging Face `tokenizer.json`. A BERT vocabulary (`bert-base-uncased`,
//! 30522 pieces) cannot be installed here, so [`CaptionTokenizer::train`] learns a WordPiece
//! vocabulary from the training captions with the same crate's trainer; the run stores it
//! beside its checkpoint ([`TOKENIZER_FILE`]) so the model's ids keep their meaning.
use std::path::Path;

use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::wordpiece::{WordPiece, WordPieceTrainerBuilder};
use tokenizers::models::TrainerWrapper;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::{
    AddedToken, NormalizedString, Normalizer, OffsetReferential, OffsetType, PreTokenizedString,
    PreTokenizer, Tokenizer,
};

use crate::sample::PAD;

/// File name of the tokenizer beside a run's checkpoint.
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// Padding, id [`PAD`] (0) as in BERT's vocabulary.
pub const PAD_TOKEN: &str = "[PAD]";
/// Pieces the vocabulary does not hold, id 1.
pub const UNK_TOKEN: &str = "[UNK]";

/// Why captions could not be tokenized.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("{path}: not a usable tokenizer: {reason}")]
    File { path: String, reason: String },
    #[error("training the WordPiece vocabulary: {0}")]
    Train(String),
    #[error("tokenizing {caption:?}: {reason}")]
    Encode { caption: String, reason: String },
    #[error(
        "the tokenizer's vocabulary has {found} pieces but the model's text vocabulary is \
         {vocab}; choose a model with a vocabulary at least that large"
    )]
    TooLarge { found: usize, vocab: usize },
}

/// A WordPiece tokenizer whose `[PAD]` is id 0.
pub struct CaptionTokenizer {
    inner: Tokenizer,
}

fn bert_pipeline(model: WordPiece) -> Tokenizer {
    let mut t = Tokenizer::new(model);
    t.with_normalizer(Some(BertNormalizer::default()));
    t.with_pre_tokenizer(Some(BertPreTokenizer));
    t.with_decoder(Some(WordPieceDecoder::default()));
    t
}

/// `##c` for every character `c` that follows another within a word of `captions`, as BERT's
/// normalizer and pre-tokenizer cut them; sorted.
fn continuation_pieces<S: AsRef<str>>(captions: &[S]) -> Result<Vec<String>, TokenizerError> {
    let fail = |e: tokenizers::Error| TokenizerError::Train(e.to_string());
    let mut pieces = std::collections::BTreeSet::new();
    for caption in captions {
        let mut normalized = NormalizedString::from(caption.as_ref());
        BertNormalizer::default()
            .normalize(&mut normalized)
            .map_err(fail)?;
        let mut words = PreTokenizedString::from(normalized);
        BertPreTokenizer.pre_tokenize(&mut words).map_err(fail)?;
        for (word, _, _) in words.get_splits(OffsetReferential::Original, OffsetType::Byte) {
            pieces.extend(word.chars().skip(1).map(|c| format!("##{c}")));
        }
    }
    Ok(pieces.into_iter().collect())
}

impl CaptionTokenizer {
    /// Learns a WordPiece vocabulary of at most `vocab` pieces (`[PAD]` 0 and `[UNK]` 1
    /// included) from `captions`.
    pub fn train<S: AsRef<str> + Send>(
        captions: impl Iterator<Item = S> + Send,
        vocab: usize,
    ) -> Result<CaptionTokenizer, TokenizerError> {
        let captions: Vec<String> = captions.map(|c| c.as_ref().to_string()).collect();
        // The trainer (tokenizers 0.22) gives `##` continuation pieces their ids in hash-map
        // order, and ids break ties between equally frequent merges, so the same captions
        // gave different vocabularies from run to run (huggingface/tokenizers#1794). Declared
        // up front, in sorted order, every continuation has a fixed id and training is
        // repeatable; they stay in the vocabulary as ordinary pieces.
        let mut specials = vec![
            AddedToken::from(PAD_TOKEN, true),
            AddedToken::from(UNK_TOKEN, true),
        ];
        let continuations = continuation_pieces(&captions)?;
        specials.extend(
            continuations
                .iter()
                .map(|p| AddedToken::from(p.as_str(), true)),
        );
        let mut trainer: TrainerWrapper = WordPieceTrainerBuilder::new()
            .vocab_size(vocab.max(specials.len()))
            .min_frequency(1)
            .special_tokens(specials)
            .show_progress(false)
            .build()
            .into();
        let mut trained = bert_pipeline(WordPiece::default());
        trained
            .train(&mut trainer, captions.iter())
            .map_err(|e| TokenizerError::Train(e.to_string()))?;
        // The learned pieces with only [PAD] and [UNK] special: the continuations declared
        // above must split words as ordinary pieces, not be matched as added tokens.
        let fail = |e: String| TokenizerError::Train(e);
        let mut json: serde_json::Value =
            serde_json::from_str(&trained.to_string(false).map_err(|e| fail(e.to_string()))?)
                .map_err(|e| fail(e.to_string()))?;
        if let Some(added) = json["added_tokens"].as_array_mut() {
            added.retain(|t| [PAD_TOKEN, UNK_TOKEN].contains(&t["content"].as_str().unwrap_or("")));
        }
        let inner: Tokenizer = json
            .to_string()
            .parse()
            .map_err(|e: tokenizers::Error| fail(e.to_string()))?;
        let t = CaptionTokenizer { inner };
        t.check_pad().map_err(TokenizerError::Train)?;
        Ok(t)
    }

    /// Reads a `tokenizer.json` (a trained one, or BERT's).
    pub fn load(path: &Path) -> Result<CaptionTokenizer, TokenizerError> {
        let file_err = |reason: String| TokenizerError::File {
            path: path.display().to_string(),
            reason,
        };
        let inner = Tokenizer::from_file(path).map_err(|e| file_err(e.to_string()))?;
        let t = CaptionTokenizer { inner };
        t.check_pad().map_err(file_err)?;
        Ok(t)
    }

    fn check_pad(&self) -> Result<(), String> {
        match self.inner.token_to_id(PAD_TOKEN) {
            Some(id) if id == PAD => Ok(()),
            other => Err(format!("`{PAD_TOKEN}` must be id {PAD}, found {other:?}")),
        }
    }

    /// Writes the tokenizer as `tokenizer.json` (readable by Hugging Face `tokenizers`).
    pub fn save(&self, path: &Path) -> Result<(), TokenizerError> {
        self.inner
            .save(path, false)
            .map_err(|e| TokenizerError::File {
                path: path.display().to_string(),
                reason: e.to_string(),
            })
    }

    /// Pieces in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Fails unless every id fits a model vocabulary of `vocab`.
    pub fn fits(&self, vocab: usize) -> Result<(), TokenizerError> {
        let found = self.vocab_size();
        if found > vocab {
            return Err(TokenizerError::TooLarge { found, vocab });
        }
        Ok(())
    }

    /// `caption` as exactly `len` ids: truncated, or padded with [`PAD`] at the end.
    pub fn encode(&self, caption: &str, len: usize) -> Result<Vec<u32>, TokenizerError> {
        let enc = self
            .inner
            .encode(caption, false)
            .map_err(|e| TokenizerError::Encode {
                caption: caption.to_string(),
                reason: e.to_string(),
            })?;
        let mut ids: Vec<u32> = enc.get_ids().iter().copied().take(len).collect();
        ids.resize(len, PAD);
        Ok(ids)
    }

    /// The piece of one id (`##` continuations kept), for pictures.
    pub fn piece(&self, id: u32) -> String {
        self.inner
            .id_to_token(id)
            .unwrap_or_else(|| format!("<{id}>"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTIONS: [&str; 5] = [
        "Chelsea the cat.",
        "Coffee cup.",
        "Color image of the astronaut Eileen Collins.",
        "Grinning face with big eyes",
        "A cat with a coffee cup",
    ];

    #[test]
    fn trained_pieces_pad_at_the_end_and_survive_a_round_trip() {
        let t = CaptionTokenizer::train(CAPTIONS.iter(), 200).unwrap();
        assert!(t.vocab_size() <= 200);
        let ids = t.encode("The CAT. Coffee.", 8).unwrap();
        // BERT normalizes case and splits punctuation: the, cat, ".", coffee, "." then padding.
        let words: Vec<String> = ids[..5].iter().map(|&i| t.piece(i)).collect();
        assert_eq!(words, ["the", "cat", ".", "coffee", "."]);
        assert_eq!(&ids[5..], [PAD; 3]);
        assert!(ids[..5].iter().all(|&i| i != PAD));
        // Truncation keeps the first pieces.
        assert_eq!(t.encode("The CAT. Coffee.", 2).unwrap(), &ids[..2]);
        let guard = tempfile::tempdir().unwrap();
        let dir = guard.path();
        let path = dir.join(TOKENIZER_FILE);
        t.save(&path).unwrap();
        let back = CaptionTokenizer::load(&path).unwrap();
        assert_eq!(back.encode("The CAT. Coffee.", 8).unwrap(), ids);
        assert!(t.fits(1000).is_ok());
        assert!(matches!(t.fits(3), Err(TokenizerError::TooLarge { .. })));
    }

    /// The same captions give the same vocabulary, run after run (the crate's trainer alone
    /// gave a different one in most runs on these 24 captions).
    #[test]
    fn training_is_repeatable() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/m3ae/captions"
        );
        let set = crate::m3ae::captions::CaptionSet::open(Path::new(dir)).unwrap();
        let train = || {
            let t = CaptionTokenizer::train(set.pairs.iter().map(|p| p.caption.as_str()), 1000);
            t.unwrap().inner.to_string(false).unwrap()
        };
        let first = train();
        for _ in 0..5 {
            assert!(
                train() == first,
                "a second training gave another vocabulary"
            );
        }
        // The declared continuations split words as ordinary pieces.
        let t = CaptionTokenizer::train(CAPTIONS.iter(), 200).unwrap();
        let ids = t.encode("cats", 4).unwrap();
        assert_eq!(t.piece(ids[0]), "cat");
        assert_eq!(t.piece(ids[1]), "##s");
    }

    #[test]
    fn letters_never_seen_become_unknown_not_padding() {
        let t = CaptionTokenizer::train(CAPTIONS.iter(), 200).unwrap();
        let ids = t.encode("zzz", 2).unwrap();
        assert_eq!(t.piece(ids[0]), UNK_TOKEN);
        assert_eq!(ids[1], PAD);
    }
}
