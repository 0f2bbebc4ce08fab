# A derivation for a Linux system this machine is not: Nix needs a builder it does not have,
# as on a Mac whose stage-1 image is not in the binary cache.
derivation {
  name = "needs-a-linux-builder";
  system = if builtins.currentSystem == "aarch64-linux" then "x86_64-linux" else "aarch64-linux";
  builder = "/bin/sh";
}
