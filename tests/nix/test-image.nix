# A builder image directory built with builtins only (no nixpkgs), for the `nix` image
# provider's real test against Debian's Nix 2.8:
#   nix-build tests/nix/test-image.nix                       fake kernel/initrd + nix/manifest.nix
#   nix-build tests/nix/test-image.nix --argstr guestDir DIR  an existing image directory (the
#                                                             test guest), added to the store
#   nix-build tests/nix/test-image.nix --argstr fail yes      a build that fails
{
  guestDir ? "",
  fail ? "",
  # Flakes evaluate purely, without builtins.currentSystem: they pass it.
  system ? builtins.currentSystem,
}:
let
  manifest = import ../../nix/manifest.nix {
    variant = "builderbar";
    name = "Builderbar nix provider test";
    system = "x86_64-linux";
    toplevel = "/nix/store/00000000000000000000000000000000-nixos-system-test";
    regInfo = "/nix/store/11111111111111111111111111111111-closure-info";
    kernel = "vmlinuz";
    initrd = "initrd.img";
    minMemoryMiB = 256;
  };
  fixtures = builtins.path {
    path = ./fixtures;
    name = "builderbar-test-fixtures";
  };
  guest = builtins.path {
    path = /. + guestDir;
    name = "builderbar-test-guest";
  };
  # Builder PATH is empty: shell builtins and absolute /bin paths only.
  fromFixtures = ''
    echo "assembling the test image"
    /bin/mkdir -p "$out"
    /bin/cp "$fixtures/vmlinuz" "$fixtures/initrd.img" "$out/"
    : > "$out/store.img"
    printf '%s' "$manifestJson" > "$out/builderbar-image.json"
    echo "wrote builderbar-image.json"
  '';
  fromGuest = ''
    echo "linking the test guest image"
    /bin/mkdir -p "$out"
    for f in "$guest"/*; do /bin/ln -s "$f" "$out/"; done
  '';
in
derivation (
  {
    name = "builderbar-test-image";
    inherit system;
    builder = "/bin/sh";
    args = [
      "-c"
      (
        if fail != "" then
          "echo 'the test image refuses to build' >&2; exit 3"
        else if guestDir != "" then
          fromGuest
        else
          fromFixtures
      )
    ];
  }
  // (
    if guestDir != "" then
      { inherit guest; }
    else
      {
        inherit fixtures;
        manifestJson = builtins.toJSON manifest;
      }
  )
)
