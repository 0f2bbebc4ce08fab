# Sample arguments for nix/manifest.nix: plausible store paths, no real derivations. Used by
# crates/core/tests/nix_manifest.rs and the flake's `manifest` check.
let
  store = "/nix/store";
  toplevel = "${store}/0p8q0fzd3ddh5m3dxavx7ps2ag0j6x3c-nixos-system-nixos-25.05.20250601.abcdef0";
  regInfo = "${store}/1yk0wkk7b3jgmr7h3p3vvn6b5l0k4z8g-closure-info";
in
{
  stock = {
    variant = "stock";
    name = "NixOS 25.05 darwin.linux-builder (stock)";
    system = "aarch64-linux";
    inherit toplevel regInfo;
    # What toplevel/kernel-params holds for the stock guest, plus a console= to be dropped.
    kernelParams = [
      "loglevel=4"
      "console=tty0"
    ];
    initrd = "${store}/2a4yq2nbr0a0c6nq4pq0g7h9r4m0s7z1-initrd-linux-6.12.30/initrd";
    hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJBWcxb/Blaqt1auOtE+F8QUWrUotiC5qBJ+UuEWdVCb root@nixos";
    certs = "${store}/3c1g5mfx0q6z3fvb6r6c8kq8x2cd1v4h-builderbar-guest-certs";
    qemu = "${store}/4b0r5h5a4g5m8vq9k6m2cz9rwn0fj7x2-qemu-host-cpu-only-9.2.3/bin";
  };
  builderbar = {
    variant = "builderbar";
    name = "Builderbar builder (NixOS 25.05)";
    system = "x86_64-linux";
    inherit toplevel regInfo;
    kernelParams = [ "loglevel=4" ];
    storeImage = "${store}/5q8m2kq1n7x3h0v9z6c4b2a1s8d7f6g5-builderbar-store-image";
  };
}
