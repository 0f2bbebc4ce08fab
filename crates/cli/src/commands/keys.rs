//! `builderbar keys show`: public halves and fingerprints; private keys are never printed.

use builderbar_core::keys::InstallKeys;

use crate::cli::KeysAction;
use crate::context::Ctx;
use crate::exit;

pub async fn run(ctx: &Ctx, action: KeysAction) -> i32 {
    match action {
        KeysAction::Show => {
            let keys = match InstallKeys::ensure(&ctx.paths.keys_dir()) {
                Ok(k) => k,
                Err(e) => return exit::report(&e, exit::ERROR),
            };
            match keys.describe() {
                Ok(rows) => {
                    for (what, public, fp) in rows {
                        println!("{what}:\n  {public}\n  {fp}");
                    }
                    exit::OK
                }
                Err(e) => exit::report(&e, exit::ERROR),
            }
        }
        KeysAction::Rotate { wiring, yes } => super::setup::rotate(ctx, &wiring, yes).await,
    }
}
