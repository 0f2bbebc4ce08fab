//! The CLI's one error type: every command returns `Result<(), CliError>` and uses `?`; `report`
//! prints it once (message and hint) and gives the exit code.

use builderbar_core::api::ApiError;
use builderbar_core::UserFacing;

use crate::exit;
use crate::logging::REPORTED;

#[derive(Debug)]
pub enum CliError {
    /// A core error: printed with its hint; exits with `code` (from its kind, unless a command chose one).
    Core { error: ApiError, code: i32 },
    /// A bad command line: printed with its hint; exits with [`exit::USAGE`].
    Usage { message: String, hint: String },
    /// The outcome was already told on the terminal (a failing check, a declined prompt, the
    /// remote command's status): just exit with this code.
    Exit(i32),
}

pub type CliResult = Result<(), CliError>;

impl CliError {
    /// A core error with an exit code other than its kind's (`settings set`: bad input is USAGE).
    pub fn with_code(error: impl Into<ApiError>, code: i32) -> CliError {
        CliError::Core { error: error.into(), code }
    }

    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> CliError {
        CliError::Usage { message: message.into(), hint: hint.into() }
    }

    /// Prints the error once (and logs it to the log file only) and returns the exit code.
    pub fn report(self) -> i32 {
        match self {
            CliError::Core { error, code } => {
                tracing::error!(target: REPORTED, "{error}");
                eprintln!("error: {error}");
                eprintln!("hint: {}", error.hint());
                code
            }
            CliError::Usage { message, hint } => {
                tracing::error!(target: REPORTED, "{message}");
                eprintln!("error: {message}");
                eprintln!("hint: {hint}");
                exit::USAGE
            }
            CliError::Exit(code) => code,
        }
    }
}

impl From<ApiError> for CliError {
    fn from(error: ApiError) -> CliError {
        let code = exit::code_of(&error);
        CliError::Core { error, code }
    }
}

/// Every domain error converts through [`ApiError`], so commands can `?` core calls directly.
macro_rules! via_api_error {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for CliError {
            fn from(e: $t) -> CliError {
                CliError::from(ApiError::from(e))
            }
        }
    )*};
}

via_api_error!(
    builderbar_core::settings::SettingsError,
    builderbar_core::vm::VmError,
    builderbar_core::image::ManifestError,
    builderbar_core::keys::KeyError,
    builderbar_core::setup::SetupError,
    builderbar_core::privileged::PrivilegedError,
    builderbar_core::gateway::GatewayError,
    builderbar_core::image::nix_provider::NixError,
    builderbar_core::image::ImageError,
);
