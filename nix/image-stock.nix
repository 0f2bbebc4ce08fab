# Stage 1: nixpkgs' own darwin.linux-builder, unchanged, as a Builderbar image. Its NixOS
# configuration is evaluated exactly as Hydra evaluates it (no extra modules), so every Linux
# path has the same hash as on cache.nixos.org and is substituted, never built: a Mac with no
# Linux builder can build this. What the derivation itself builds runs on the Mac: the
# registration info, the erofs store image, the root disk template and the manifest.
{
  lib,
  darwin,
  cacert,
  runCommand,
  callPackage,
}:
let
  inherit (darwin.linux-builder) nixosConfig;
  vm = nixosConfig.virtualisation;
  shares = vm.sharedDirectories;
  etc = nixosConfig.environment.etc;

  # qemu-vm.nix copies $NIX_SSL_CERT_FILE into the `certs` share; the guest trusts nothing
  # else (security.pki.installCACerts = false). Ship nixpkgs' bundle under the expected name.
  certs = runCommand "builderbar-guest-certs" { } ''
    mkdir -p "$out"
    cp ${cacert}/etc/ssl/certs/ca-bundle.crt "$out/ca-certificates.crt"
  '';

  # The manifest describes how qemu-vm.nix's runner starts this guest. Check that the
  # configuration still expects exactly that, so a nixpkgs bump fails here, not at boot.
  expect = cond: msg: lib.assertMsg cond "builderbar: darwin.linux-builder changed: ${msg}";
  checked =
    expect (vm.directBoot.enable && !vm.useBootLoader) "it no longer boots its kernel directly"
    && expect (
      vm.useNixStoreImage && vm.writableStore && !vm.writableStoreUseTmpfs
    ) "its store is no longer an erofs image with a writable overlay on the root disk"
    && expect (
      vm.rootDevice == "/dev/disk/by-label/nixos"
    ) "root is ${vm.rootDevice}, not by-label/nixos"
    && expect (
      nixosConfig.fileSystems."/nix/.ro-store".device == "/dev/disk/by-label/nix-store"
    ) "the store image is no longer found by the label nix-store"
    && expect (vm.qemu.diskInterface == "virtio") "disks are no longer virtio"
    && expect (
      lib.attrNames shares == [
        "certs"
        "keys"
        "shared"
        "xchg"
      ]
    ) "its 9p shares are ${toString (lib.attrNames shares)}"
    && expect (
      shares.keys.target == "/var/keys" && shares.keys.securityModel == "mapped-xattr"
    ) "the keys share moved or changed its security model"
    && expect (lib.all (s: s.securityModel == "none") [
      shares.xchg
      shares.shared
      shares.certs
    ]) "a data share changed its security model"
    && expect (lib.elem "/var/keys/%u_ed25519.pub" nixosConfig.services.openssh.authorizedKeysFiles) "sshd no longer reads /var/keys/%u_ed25519.pub"
    && expect (nixosConfig.users.users ? builder) "there is no user `builder`";
in
assert checked;
callPackage ./image.nix {
  inherit nixosConfig;
  variant = "stock";
  name = "NixOS ${nixosConfig.system.nixos.release} darwin.linux-builder (stock)";
  qemu = vm.qemu.package;
  templateSizeMiB = vm.diskSize;
  manifestArgs = {
    hostKey = lib.removeSuffix "\n" (builtins.readFile etc."ssh/ssh_host_ed25519_key.pub".source);
    inherit certs;
  };
}
