//! `tessera mask` (being written).
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    Err(super::bad_input("`tessera mask` is not implemented yet"))
}
