# The image manifest (builderbar-image.json, schema 1) as one pure function: no nixpkgs,
# no derivations, only strings in and an attribute set out. The Rust side
# (crates/core/src/image/manifest.rs) parses exactly this; crates/core/tests/nix_manifest.rs
# evaluates this file with nix-instantiate and feeds the JSON to that parser.
#
# Both images boot the same way: direct kernel boot of a NixOS system whose Nix store is a
# read-only erofs image (label `nix-store`) with a writable overlay on the state disk (serial
# `root`), and whose store database is loaded at boot from `regInfo=`.
#
# variant = "stock": nixpkgs' darwin.linux-builder as its qemu-vm.nix runner starts it
#   (fixed public host key, client key on the 9p share `keys`, preformatted ext4 root, and the
#   9p shares xchg, shared and certs it mounts as neededForBoot).
# variant = "builderbar": nixosModules.builder (keys over fw_cfg, host key made per install,
#   formats and grows its own root disk, prints a readiness line).
{
  variant,
  # Shown to the user.
  name,
  # Nix system of the guest: aarch64-linux or x86_64-linux.
  system,
  # config.system.build.toplevel of the guest.
  toplevel,
  # config.boot.kernelParams of the guest (what toplevel/kernel-params holds).
  kernelParams ? [ ],
  # The output of closureInfo { rootPaths = [ toplevel ]; } (holds `registration`).
  regInfo,
  # The erofs store image, relative to the image directory or absolute.
  storeImage ? "store.img",
  kernel ? "${toplevel}/kernel",
  initrd ? "${toplevel}/initrd",
  # stock: the image's fixed public host key (nixpkgs' nixos/modules/profiles/keys).
  hostKey ? null,
  # stock: an empty ext4 image labelled `nixos` the state disk is copied from.
  stateTemplate ? "state-template.qcow2",
  # stock: a directory holding ca-certificates.crt, shared at /etc/ssl/certs.
  certs ? null,
  # A directory with qemu-system-* and qemu-img to run the image with, or null.
  qemu ? null,
  readyMarker ? "BUILDERBAR-READY",
  keysPrefix ? "opt/builderbar",
  minMemoryMiB ? 1024,
}:
let
  stock = variant == "stock";
  consoles = {
    aarch64-linux = "ttyAMA0";
    x86_64-linux = "ttyS0";
  };
  # The app adds console= itself from `console`; a stray one would be rejected by the parser.
  isConsole = p: builtins.substring 0 8 p == "console=";
  params = builtins.filter (p: !isConsole p) kernelParams ++ [
    "init=${toplevel}/init"
    "regInfo=${regInfo}/registration"
  ];
  stateDir = tag: {
    inherit tag;
    source = {
      kind = "state_dir";
      name = "xchg";
    };
    security_model = "none";
  };
in
assert builtins.elem variant [
  "stock"
  "builderbar"
];
assert stock -> hostKey != null && certs != null;
{
  schema = 1;
  inherit name system;
  kernel = toString kernel;
  initrd = toString initrd;
  cmdline = builtins.concatStringsSep " " params;
  console = consoles.${system} or (throw "builderbar: unsupported guest system ${system}");
  ssh = {
    user = "builder";
    port = 22;
  };
  host_key =
    if stock then
      {
        kind = "fixed";
        public = hostKey;
      }
    else
      { kind = "runtime"; };
  keys =
    if stock then
      {
        # qemu-vm.nix shares $KEYS with its default model; sshd reads /var/keys/%u_ed25519.pub.
        channel = "share";
        tag = "keys";
        security_model = "mapped-xattr";
        files.authorized_keys = "builder_ed25519.pub";
      }
    else
      {
        channel = "fw_cfg";
        prefix = keysPrefix;
      };
  disks = [
    {
      kind = "image";
      path = toString storeImage;
      format = "raw";
      read_only = true;
    }
    (
      {
        kind = "state";
        serial = "root";
      }
      // (
        if stock then
          {
            template = {
              path = toString stateTemplate;
              format = "qcow2";
            };
          }
        else
          { }
      )
    )
  ];
  # qemu-vm.nix mounts these as neededForBoot: the stock guest does not boot without them.
  shares =
    if stock then
      [
        (stateDir "xchg")
        (stateDir "shared")
        {
          tag = "certs";
          source = {
            kind = "host";
            path = toString certs;
          };
          security_model = "none";
          read_only = true;
        }
      ]
    else
      [ ];
  min_memory_mib = minMemoryMiB;
}
// (if stock then { } else { ready_marker = readyMarker; })
// (if qemu == null then { } else { qemu = toString qemu; })
