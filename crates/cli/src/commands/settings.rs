//! `builderbar settings`: show, set one value (validated by the core), print the file's path.

use builderbar_core::settings::{HostLimits, Settings, SettingsError};
use builderbar_core::vm::VmState;

use crate::cli::SettingsAction;
use crate::context::Ctx;
use crate::exit;

pub async fn run(ctx: &Ctx, action: Option<SettingsAction>) -> i32 {
    let path = ctx.paths.settings_file();
    let current = match Settings::load(&path) {
        Ok(s) => s,
        Err(e) => return exit::report(&e, exit::ERROR),
    };
    match action.unwrap_or(SettingsAction::Show) {
        SettingsAction::Show => {
            println!("{}", serde_json::to_string_pretty(&current).expect("json"));
            exit::OK
        }
        SettingsAction::Path => {
            println!("{}", path.display());
            exit::OK
        }
        SettingsAction::Set { key, value } => {
            let mut v = serde_json::to_value(&current).expect("json");
            let Some(slot) = v.get_mut(&key) else {
                eprintln!("error: unknown setting `{key}`");
                let keys: Vec<_> = v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
                eprintln!("hint: settings are: {}", keys.join(", "));
                return exit::USAGE;
            };
            // Numbers and booleans as JSON, everything else as a string; "null" clears an option.
            *slot = serde_json::from_str(&value).unwrap_or(serde_json::Value::String(value));
            let new = match Settings::from_json(&v.to_string()) {
                Ok(s) => s,
                Err(message) => {
                    let e = SettingsError::Invalid(vec![builderbar_core::settings::FieldError {
                        field: key.clone(),
                        message,
                    }]);
                    return exit::report(&e, exit::USAGE);
                }
            };
            let status = ctx.supervisor.refresh().await;
            let running = !matches!(status.state, VmState::Stopped | VmState::Failed { .. });
            // The port our own builder holds counts as free, and so does the one our gateway serves.
            let limits = HostLimits::detect(ctx.host, status.port);
            let gateway = builderbar_core::gateway::serving_port(&ctx.paths.vm_dir);
            let free = limits.port_available;
            let limits = HostLimits { port_available: Box::new(move |p| Some(p) == gateway || free(p)), ..limits };
            match new.save(&path, &limits) {
                Ok(()) => {
                    if running && new.needs_vm_restart(&current) {
                        eprintln!("Saved. Restart the builder to apply it (`builderbar stop && builderbar start`).");
                    } else {
                        eprintln!("Saved.");
                    }
                    exit::OK
                }
                Err(e) => exit::report(&e, exit::USAGE),
            }
        }
    }
}
