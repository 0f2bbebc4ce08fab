//! `builderbar settings`: show, set one value (validated by the core), print the file's path.

use builderbar_core::api;
use builderbar_core::settings::{FieldError, Settings, SettingsError};

use std::path::Path;

use crate::cli::SettingsAction;
use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::exit;

/// Settings that hold a path.
const PATH_SETTINGS: &[&str] = &["image", "nix_conf_dir", "ssh_config_dir"];

pub async fn run(ctx: &Ctx, action: Option<SettingsAction>) -> CliResult {
    let path = ctx.paths.settings_file();
    let current = ctx.settings()?;
    match action.unwrap_or(SettingsAction::Show) {
        SettingsAction::Show => println!("{}", serde_json::to_string_pretty(&current).expect("json")),
        SettingsAction::Path => println!("{}", path.display()),
        SettingsAction::Set { key, value } => {
            let mut v = serde_json::to_value(&current).expect("json");
            let Some(slot) = v.get_mut(&key) else {
                let keys: Vec<_> = v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
                return Err(CliError::usage(
                    format!("unknown setting `{key}`"),
                    format!("settings are: {}", keys.join(", ")),
                ));
            };
            // Numbers and booleans as JSON, everything else as a string; "null" clears an option.
            let mut parsed = serde_json::from_str(&value).unwrap_or(serde_json::Value::String(value));
            // A path is taken from where the command runs: stored absolute, it means the same
            // to the app and every other process.
            if let (true, serde_json::Value::String(p)) = (PATH_SETTINGS.contains(&key.as_str()), &parsed) {
                if Path::new(p).is_relative() {
                    let cwd = std::env::current_dir().map_err(|e| {
                        CliError::usage(
                            format!("`{p}` is relative, and the current directory is unknown: {e}"),
                            "Give an absolute path.",
                        )
                    })?;
                    parsed = serde_json::Value::String(cwd.join(p).display().to_string());
                }
            }
            *slot = parsed;
            let new = Settings::from_json(&v.to_string()).map_err(|message| {
                CliError::with_code(
                    SettingsError::Invalid(vec![FieldError { field: key.clone(), message }]),
                    exit::USAGE,
                )
            })?;
            let builder = ctx.supervisor.refresh().await;
            let saved =
                api::settings::save(ctx.vm(), &builder, &new).map_err(|e| CliError::with_code(e, exit::USAGE))?;
            if saved.restart_needed {
                eprintln!("Saved. Restart the builder to apply it (`builderbar stop && builderbar start`).");
            } else {
                eprintln!("Saved.");
            }
        }
    }
    Ok(())
}
