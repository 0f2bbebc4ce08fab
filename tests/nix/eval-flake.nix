# Evaluates flake.nix's outputs with nixpkgs' lib and a stub package set: the attribute layout
# of every output, and both images' manifests as image.nix/image-stock.nix assemble them from a
# NixOS configuration shaped like darwin.linux-builder's. It checks our glue (option paths we
# read, arguments we pass), not nixpkgs itself. Needs a nixpkgs `lib` directory:
#   nix-instantiate --eval --strict --json --arg lib 'import /path/to/nixpkgs/lib' tests/nix/eval-flake.nix
{ lib }:
let
  drv =
    name: extra:
    {
      type = "derivation";
      inherit name;
      outPath = "/nix/store/00000000000000000000000000000000-${name}";
    }
    // extra;
  # A configuration with the options image-stock.nix reads, valued as nixpkgs' builder sets them.
  stockConfig = {
    nixpkgs.hostPlatform.system = "aarch64-linux";
    boot.kernelParams = [ "loglevel=4" ];
    system.nixos.release = "26.05";
    system.build.toplevel = drv "nixos-system-nixos-26.05" { };
    system.build.initialRamdisk = drv "initrd-linux" { };
    system.boot.loader.initrdFile = "initrd";
    environment.etc."ssh/ssh_host_ed25519_key.pub".source = ./fixtures/stock_host_ed25519_key.pub;
    services.openssh.authorizedKeysFiles = [ "/var/keys/%u_ed25519.pub" ];
    users.users.builder.isNormalUser = true;
    fileSystems."/nix/.ro-store".device = "/dev/disk/by-label/nix-store";
    virtualisation = {
      directBoot.enable = true;
      useBootLoader = false;
      useNixStoreImage = true;
      writableStore = true;
      writableStoreUseTmpfs = false;
      rootDevice = "/dev/disk/by-label/nixos";
      diskSize = 20 * 1024;
      qemu.diskInterface = "virtio";
      qemu.package = drv "qemu-host-cpu-only" { };
      sharedDirectories = {
        keys = {
          target = "/var/keys";
          securityModel = "mapped-xattr";
        };
        xchg.securityModel = "none";
        shared.securityModel = "none";
        certs.securityModel = "none";
      };
    };
  };
  builderConfig = stockConfig // {
    builderbar.builder = {
      readyMarker = "BUILDERBAR-READY";
      keysPrefix = "opt/builderbar";
    };
  };
  stubPkgs =
    system:
    let
      pkgs = {
        inherit lib;
        callPackage = fn: args: lib.callPackageWith pkgs fn args;
        stdenv.hostPlatform = {
          inherit system;
          isDarwin = lib.hasSuffix "darwin" system;
          isLinux = lib.hasSuffix "linux" system;
          isAarch64 = lib.hasPrefix "aarch64" system;
          rust.rustcTarget = "target";
        };
        runCommand =
          name: env: _script:
          drv name (env.passthru or { });
        writeText = name: _text: drv name { };
        closureInfo = _: drv "closure-info" { };
        darwin.linux-builder.nixosConfig = stockConfig;
        rustPlatform.buildRustPackage = args: drv args.pname { inherit (args) meta; };
        importNpmLock = (_: drv "npm-deps" { }) // {
          npmConfigHook = drv "npm-config-hook" { };
        };
        cargo-tauri = drv "cargo-tauri" { hook = drv "cargo-tauri-hook" { }; };
        mkShell = args: drv "shell" { inherit (args) packages; };
      }
      // lib.genAttrs [
        "qemu"
        "e2fsprogs"
        "gnutar"
        "erofs-utils"
        "cacert"
        "nodejs"
        "pkg-config"
        "wrapGAppsHook3"
        "openssl"
        "webkitgtk_4_1"
        "glib-networking"
        "libayatana-appindicator"
        "cargo"
        "rustc"
        "clippy"
        "rustfmt"
        "rust-analyzer"
        "deadnix"
        "nixfmt-rfc-style"
        "librsvg"
        "nix"
        "jq"
      ] (n: drv n { });
    in
    pkgs;
  systems = [
    "aarch64-darwin"
    "x86_64-darwin"
    "aarch64-linux"
    "x86_64-linux"
  ];
  # The flake's outputs against a nixpkgs of the given release (lib.trivial.release).
  flakeOn =
    release:
    let
      nixpkgs = {
        lib = lib // {
          trivial = lib.trivial // {
            inherit release;
          };
          nixosSystem = _: { config = builderConfig; };
        };
        legacyPackages = lib.genAttrs systems stubPkgs;
      };
      flake = (import ../../flake.nix).outputs {
        self = flake // {
          outPath = toString ../..;
        };
        inherit nixpkgs;
      };
    in
    flake;
  # The release flake.lock pins (tests/nix/eval-lock.nix checks the lock itself).
  lock = builtins.fromJSON (builtins.readFile ../../flake.lock);
  pinned = lib.head (builtins.match "nixpkgs-([0-9.]+)-darwin" lock.nodes.nixpkgs.original.ref);
  flake = flakeOn pinned;
  # The first release without x86_64-darwin: Intel Macs get no outputs.
  later = flakeOn "26.11";
  check = cond: msg: lib.assertMsg cond "eval-flake: ${msg}";
  mac = flake.packages.aarch64-darwin;
in
assert check (lib.attrNames flake.packages == lib.sort lib.lessThan systems) "package systems";
assert check (
  !(later.packages ? x86_64-darwin)
  && later.packages ? aarch64-darwin
  && lib.attrNames later.nixosConfigurations == [ "aarch64-darwin" ]
) "from nixpkgs 26.11 on, no outputs for Intel Macs";
assert check (
  lib.attrNames mac == [
    "builder-image"
    "builder-image-stock"
    "default"
  ]
) "darwin packages";
assert check (lib.attrNames flake.packages.x86_64-linux == [ "default" ]) "linux packages";
assert check (lib.hasSuffix "/bin/builderbar-app" flake.apps.x86_64-darwin.default.program) "app";
assert check (builtins.isPath flake.nixosModules.builder) "nixos module";
assert check (builtins.isFunction flake.darwinModules.default) "darwin module";
assert check (flake.devShells.aarch64-linux ? default) "dev shell";
assert check (
  flake.checks.aarch64-darwin ? stock-manifest && flake.checks.x86_64-linux ? nix-lint
) "checks";
assert check (flake.nixosConfigurations ? aarch64-darwin) "nixos configurations";
{
  stock = builtins.toJSON mac.builder-image-stock.manifest;
  builderbar = builtins.toJSON mac.builder-image.manifest;
}
