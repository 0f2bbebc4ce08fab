# Stage 2 image: nixosModules.builder as a Builderbar image directory. Its Linux derivations
# that are not in cache.nixos.org are built on a running Linux builder (the stage-1 image).
{
  callPackage,
  # lib.nixosSystem { modules = [ nixosModules.builder ]; ... }.config
  nixosConfig,
  # The qemu the image is run with (the stock image's, already in the store).
  qemu,
}:
callPackage ./image.nix {
  inherit nixosConfig qemu;
  variant = "builderbar";
  name = "Builderbar builder (NixOS ${nixosConfig.system.nixos.release})";
  manifestArgs = {
    inherit (nixosConfig.builderbar.builder) readyMarker keysPrefix;
    minMemoryMiB = 1024;
  };
}
