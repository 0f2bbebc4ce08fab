//! Running external programs through one small trait, so tests record what would be run.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// A program, its arguments and extra environment: what we ask the OS to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Variables added to (or overriding) the inherited environment.
    pub env: Vec<(OsString, OsString)>,
}

impl CommandSpec {
    pub fn new(argv: Vec<OsString>) -> CommandSpec {
        let mut it = argv.into_iter();
        let program = it.next().unwrap_or_default();
        CommandSpec { program, args: it.collect(), env: Vec::new() }
    }

    /// Program and arguments as one list.
    pub fn argv(&self) -> Vec<OsString> {
        std::iter::once(self.program.clone()).chain(self.args.iter().cloned()).collect()
    }

    /// The argv as lossy strings, for messages and assertions.
    pub fn argv_lossy(&self) -> Vec<String> {
        self.argv().iter().map(|a| a.to_string_lossy().into_owned()).collect()
    }
}

/// What a finished program left: exit code (`None` when killed by a signal) and its output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutput {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl CommandOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    pub fn ok(stdout: &str) -> CommandOutput {
        CommandOutput { code: Some(0), stdout: stdout.into(), stderr: Vec::new() }
    }

    pub fn failed(code: i32, stderr: &str) -> CommandOutput {
        CommandOutput { code: Some(code), stdout: Vec::new(), stderr: stderr.into() }
    }
}

/// Runs a command to completion. The elevation prompt may need the terminal, so stdin is
/// inherited; stdout and stderr are captured.
pub trait CommandRunner: Send + Sync {
    fn run(&self, cmd: &CommandSpec) -> std::io::Result<CommandOutput>;
}

/// The real runner: spawns the process. `env` is added to every command it runs.
#[derive(Debug, Clone, Default)]
pub struct SystemRunner {
    pub env: Vec<(OsString, OsString)>,
}

impl CommandRunner for SystemRunner {
    fn run(&self, cmd: &CommandSpec) -> std::io::Result<CommandOutput> {
        let out = Command::new(&cmd.program)
            .args(&cmd.args)
            .envs(self.env.iter().cloned())
            .envs(cmd.env.iter().cloned())
            .stdin(Stdio::inherit())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()?;
        Ok(CommandOutput { code: out.status.code(), stdout: out.stdout, stderr: out.stderr })
    }
}

/// A fake runner: records every command and answers from a queue of replies (success when empty).
#[derive(Debug, Default)]
pub struct RecordingRunner {
    calls: Mutex<Vec<CommandSpec>>,
    replies: Mutex<VecDeque<std::io::Result<CommandOutput>>>,
}

impl RecordingRunner {
    pub fn new() -> RecordingRunner {
        RecordingRunner::default()
    }

    /// Queue the answer to the next command.
    pub fn reply(&self, r: std::io::Result<CommandOutput>) -> &RecordingRunner {
        self.replies.lock().unwrap_or_else(|e| e.into_inner()).push_back(r);
        self
    }

    /// Every command asked for so far.
    pub fn calls(&self) -> Vec<CommandSpec> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl CommandRunner for RecordingRunner {
    fn run(&self, cmd: &CommandSpec) -> std::io::Result<CommandOutput> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).push(cmd.clone());
        self.replies.lock().unwrap_or_else(|e| e.into_inner()).pop_front().unwrap_or_else(|| Ok(CommandOutput::ok("")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_runner_captures_output_and_env() {
        let r = SystemRunner { env: vec![("BB_A".into(), "1".into())] };
        let mut spec =
            CommandSpec::new(vec!["/bin/sh".into(), "-c".into(), "echo $BB_A$BB_B; echo err >&2; exit 3".into()]);
        spec.env.push(("BB_B".into(), "2".into()));
        let out = r.run(&spec).unwrap();
        assert_eq!(out, CommandOutput { code: Some(3), stdout: b"12\n".to_vec(), stderr: b"err\n".to_vec() });
    }

    #[test]
    fn recording_runner_records_and_replies() {
        let r = RecordingRunner::new();
        r.reply(Ok(CommandOutput::failed(1, "no")));
        let spec = CommandSpec::new(vec!["sudo".into(), "true".into()]);
        assert_eq!(r.run(&spec).unwrap().code, Some(1));
        assert!(r.run(&spec).unwrap().success());
        assert_eq!(r.calls(), vec![spec.clone(), spec]);
    }
}
