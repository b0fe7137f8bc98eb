//! Helpers shared by the integration tests (each test file includes this with `mod common;`
//! and uses what it needs).
#![allow(dead_code)]
pub mod fixtures;
