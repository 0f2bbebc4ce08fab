//! Turns qemu's stderr into a sentence a user can act on.

/// (what happened, what to do) for a qemu that refused to start.
pub fn explain(stderr: &str, port: u16) -> (String, String) {
    let first = stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("warning:") && !l.contains(": warning:"))
        .unwrap_or("qemu exited without saying why")
        .to_string();
    let lower = stderr.to_lowercase();
    if lower.contains("host forwarding rule") || lower.contains("address already in use") {
        return (
            format!("port {port} on 127.0.0.1 is already in use by another program ({first})"),
            format!("Stop the program using port {port} or choose another port in Settings."),
        );
    }
    if lower.contains("no space left on device") || lower.contains("disk quota exceeded") {
        return (
            format!("the disk is full: {first}"),
            "Free space on the disk that holds Builderbar's data (the VM directory and its state disk), then start \
             again."
                .into(),
        );
    }
    if lower.contains("kvm") {
        return (
            format!("the KVM accelerator failed: {first}"),
            "Set the accelerator to `tcg` in Settings (or `builderbar settings set accelerator tcg`).".into(),
        );
    }
    if lower.contains("hvf") || lower.contains("hv_error") || lower.contains("hypervisor") {
        return (
            format!("the Hypervisor.framework accelerator (hvf) failed: {first}"),
            "Make sure qemu is signed with the com.apple.security.hypervisor entitlement (the one from the \
             Builderbar image is), or set the accelerator to `tcg`."
                .into(),
        );
    }
    if lower.contains("no such file") || lower.contains("could not open") || lower.contains("could not load") {
        return (
            format!("a file the image names is missing: {first}"),
            "Rebuild or re-download the image; its directory must hold every file its manifest names.".into(),
        );
    }
    (first, "Read qemu's message above; `builderbar logs` has the full command line and output.".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_failures_get_specific_advice() {
        let (s, h) = explain(
            "qemu-system-x86_64: -netdev user,id=net0,hostfwd=tcp:127.0.0.1:31022-:22: Could not set up host forwarding rule 'tcp:127.0.0.1:31022-:22'\n",
            31022,
        );
        assert!(s.starts_with("port 31022 on 127.0.0.1 is already in use"), "{s}");
        assert!(h.contains("31022"));
        let (s, h) = explain("Could not access KVM kernel module: Permission denied\nqemu-system-x86_64: -accel kvm: failed to initialize kvm: Permission denied\n", 1);
        assert!(s.starts_with("the KVM accelerator failed: Could not access KVM kernel module"), "{s}");
        assert!(h.contains("tcg"));
        let (s, _) = explain("qemu-system-x86_64: could not load kernel '/x/vmlinux': No such file or directory\n", 1);
        assert!(s.starts_with("a file the image names is missing"), "{s}");
        let (s, h) = explain("qemu-system-x86_64: Could not write pid file: No space left on device\n", 1);
        assert!(s.starts_with("the disk is full: "), "{s}");
        assert!(h.starts_with("Free space"), "{h}");
        let (s, _) = explain("", 1);
        assert_eq!(s, "qemu exited without saying why");
    }
}
