# An image file whose build takes minutes: for the test that cancels a fetch half way
# (crates/cli/tests/image_bootstrap.rs). It never finishes on its own terms.
{
  stage ? "stock",
  system ? builtins.currentSystem,
}:
derivation {
  name = "builderbar-slow-image-${stage}";
  inherit system;
  builder = "/bin/sh";
  args = [
    "-c"
    "echo 'a long build begins'; /bin/sleep 600; /bin/mkdir $out"
  ];
}
