//! `builderbar keys show`: public halves and fingerprints; private keys are never printed.

use builderbar_core::keys::InstallKeys;

use crate::cli::KeysAction;
use crate::context::Ctx;
use crate::error::CliResult;

pub async fn run(ctx: &Ctx, action: KeysAction) -> CliResult {
    match action {
        KeysAction::Show => {
            let keys = InstallKeys::ensure(&ctx.paths.keys_dir())?;
            for (what, public, fp) in keys.describe()? {
                println!("{what}:\n  {public}\n  {fp}");
            }
            Ok(())
        }
        KeysAction::Rotate { target, yes } => super::setup::rotate(ctx, &target, yes).await,
    }
}
