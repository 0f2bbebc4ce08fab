# A builder image directory built with builtins only (no nixpkgs), for the `nix` image
# provider's real test against Debian's Nix 2.8:
#   nix-build tests/nix/test-image.nix                       fake kernel/initrd + nix/manifest.nix
#   nix-build tests/nix/test-image.nix --argstr guestDir DIR  an existing image directory (the
#                                                             test guest), added to the store
#   nix-build tests/nix/test-image.nix --argstr fail yes      a build that fails
#   … --argstr stage stock                                    the guest as a stage-1 image: a fixed
#                                                             host key, made in the build and
#                                                             carried in its initrd (like nixpkgs'
#                                                             stock builder, whose key is public)
# BUILDERBAR_TEST_GUEST stands in for guestDir (the app passes only `stage` to an image file).
{
  guestDir ? builtins.getEnv "BUILDERBAR_TEST_GUEST",
  fail ? "",
  stage ? "builderbar",
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
  # Host tools by absolute path (the builder's PATH is empty); the key never leaves the image.
  fromGuestStock = ''
    echo "making the stage-1 test image: a fixed host key in the initrd"
    /bin/mkdir -p "$out" extra/etc/builderbar
    /usr/bin/ssh-keygen -q -t ed25519 -N "" -C builderbar-test-stock -f extra/etc/builderbar/ssh_host_ed25519_key
    pub=$(/usr/bin/cut -d" " -f1,2 extra/etc/builderbar/ssh_host_ed25519_key.pub)
    (cd extra && /usr/bin/find . -mindepth 1 | /usr/bin/cpio -o -H newc -R 0:0 --quiet) >extra.cpio
    /bin/cat "$guest/initrd.cpio" extra.cpio >"$out/initrd.cpio"
    for f in "$guest"/*; do
      case "''${f##*/}" in initrd.cpio | builderbar-image.json) ;; *) /bin/ln -s "$f" "$out/" ;; esac
    done
    /bin/sed -e "s|\"kind\": \"runtime\"|\"kind\": \"fixed\", \"public\": \"$pub\"|" \
      -e "s|\"name\": \"Builderbar test guest|\"name\": \"Builderbar test guest, stage 1|" \
      "$guest/builderbar-image.json" >"$out/builderbar-image.json"
    echo "wrote builderbar-image.json with the fixed host key"
  '';
in
derivation (
  {
    name = if stage == "stock" then "builderbar-test-image-stock" else "builderbar-test-image";
    inherit system;
    builder = "/bin/sh";
    args = [
      "-c"
      (
        if fail != "" then
          "echo 'the test image refuses to build' >&2; exit 3"
        else if guestDir != "" && stage == "stock" then
          fromGuestStock
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
