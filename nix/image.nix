# One builder image directory: builderbar-image.json (from ./manifest.nix), the erofs store
# image and, for the stock variant, the preformatted root disk template. Built on the host
# (system = the Mac): every Linux path in it is an input, substituted or built elsewhere.
{
  lib,
  runCommand,
  closureInfo,
  callPackage,
  qemu,
  e2fsprogs,
  # The evaluated NixOS configuration of the guest (its `config`).
  nixosConfig,
  variant,
  name,
  # Extra arguments for ./manifest.nix (hostKey, certs, readyMarker, ...).
  manifestArgs ? { },
  # Size of the stock root disk template in MiB (the stock guest cannot grow its disk).
  templateSizeMiB ? 20 * 1024,
}:
let
  inherit (nixosConfig.system.build) toplevel;
  # What qemu-vm.nix passes as regInfo: the registration of the guest system's closure.
  regInfo = closureInfo { rootPaths = [ toplevel ]; };
  storeImage = callPackage ./store-image.nix { inherit toplevel regInfo; };
  stock = variant == "stock";
  manifest = import ./manifest.nix (
    {
      inherit
        variant
        name
        toplevel
        regInfo
        ;
      inherit (nixosConfig.nixpkgs.hostPlatform) system;
      inherit (nixosConfig.boot) kernelParams;
      initrd = "${nixosConfig.system.build.initialRamdisk}/${nixosConfig.system.boot.loader.initrdFile}";
      qemu = "${qemu}/bin";
    }
    // manifestArgs
  );
in
runCommand "builderbar-image-${variant}-${manifest.system}"
  {
    nativeBuildInputs = lib.optionals stock [
      qemu
      e2fsprogs
    ];
    manifestJson = builtins.toJSON manifest;
    passAsFile = [ "manifestJson" ];
    passthru = {
      inherit
        manifest
        nixosConfig
        regInfo
        storeImage
        ;
    };
  }
  (
    ''
      mkdir -p "$out"
      cp "$manifestJsonPath" "$out/builderbar-image.json"
      ln -s ${storeImage} "$out/store.img"
    ''
    # qemu-vm.nix's runner formats the root disk on the host (mkfs.ext4 -L nixos); the stock
    # guest only mounts /dev/disk/by-label/nixos. The template is that empty filesystem.
    + lib.optionalString stock ''
      truncate -s ${toString templateSizeMiB}M root.raw
      mkfs.ext4 -q -F -L nixos -U 0d3c1b2a-5e4f-4a6b-8c7d-9e0f1a2b3c4d \
        -E lazy_itable_init=1,lazy_journal_init=1,hash_seed=0d3c1b2a-5e4f-4a6b-8c7d-9e0f1a2b3c4d root.raw
      qemu-img convert -f raw -O qcow2 root.raw "$out/state-template.qcow2"
      rm root.raw
    ''
  )
