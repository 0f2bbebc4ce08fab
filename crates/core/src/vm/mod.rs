//! The builder VM: qemu argv, accelerator choice, supervisor state machine, console, QMP.

pub mod accel;
pub mod argv;
pub mod console;
pub mod disk;
pub mod error;
pub mod files;
pub mod lock;
pub mod process;
pub mod qemu_error;
pub mod qmp;
pub mod runtime_dir;
pub mod state;
pub mod supervisor;

pub use accel::Accel;
pub use argv::{qemu_argv, QemuArgv};
pub use console::{ConsoleHub, ConsoleRing};
pub use error::VmError;
pub use files::VmFiles;
pub use state::{VmState, VmStatus};
pub use supervisor::{StartRequest, Supervisor, VmContext};
