# Evaluates darwinModules.default and nixosModules.builder with nixpkgs' lib alone: the options
# of nix-darwin and NixOS they write to are stubbed, so this checks our modules' own options,
# types and generated text, not NixOS itself. Needs a nixpkgs `lib` directory:
#   nix-instantiate --eval --strict --arg lib 'import /path/to/nixpkgs/lib' tests/nix/eval-modules.nix
# (tests/nix/check.sh runs it when BUILDERBAR_NIXPKGS_LIB names such a directory.)
{ lib }:
let
  fakePkg = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
    out = "/nix/store/00000000000000000000000000000000-${name}";
    meta.mainProgram = "builderbar-app";
  };
  self.packages.aarch64-darwin.default = fakePkg "builderbar";

  darwinStub = {
    options = with lib; {
      assertions = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      nix.distributedBuilds = mkOption {
        type = types.bool;
        default = false;
      };
      nix.settings = mkOption {
        type = types.attrsOf types.anything;
        default = { };
      };
      nix.buildMachines = mkOption {
        type = types.listOf (types.attrsOf types.anything);
        default = [ ];
      };
      environment.systemPackages = mkOption {
        type = types.listOf types.package;
        default = [ ];
      };
      environment.etc = mkOption {
        type = types.attrsOf (types.submodule { options.text = mkOption { type = types.lines; }; });
        default = { };
      };
      launchd.user.agents = mkOption {
        type = types.attrsOf types.anything;
        default = { };
      };
    };
  };
  evalDarwin =
    settings:
    (lib.evalModules {
      modules = [
        darwinStub
        (import ../../nix/darwin-module.nix self)
        {
          _module.args.pkgs.stdenv.hostPlatform = {
            isAarch64 = true;
            system = "aarch64-darwin";
          };
        }
        { services.builderbar = settings; }
      ];
    }).config;
  darwin = evalDarwin {
    enable = true;
    port = 31999;
    nixWiring.publicHostKey = "c3NoLWVkMjU1MTk=";
  };
  darwinNoKey = evalDarwin { enable = true; };

  nixosStub = {
    freeformType = lib.types.lazyAttrsOf lib.types.raw;
    options.nix = lib.mkOption { type = lib.types.lazyAttrsOf lib.types.raw; };
  };
  builder =
    (lib.evalModules {
      specialArgs.modulesPath = toString ./stub-modules;
      modules = [
        nixosStub
        ../../nix/builder-module.nix
        {
          _module.args.pkgs = lib.genAttrs [
            "e2fsprogs"
            "coreutils"
            "kmod"
            "iproute2"
            "gnugrep"
          ] fakePkg;
          nix.package = fakePkg "nix";
          builderbar.builder.readyMarker = "READY-42";
        }
      ];
    }).config;

  check = cond: msg: lib.assertMsg cond "eval-modules: ${msg}";
  machine = lib.head darwin.nix.buildMachines;
in
assert check (
  darwin.nix.distributedBuilds && darwin.nix.settings.builders-use-substitutes
) "wiring";
assert check (
  machine.hostName == "builderbar" && machine.systems == [ "aarch64-linux" ] && machine.maxJobs == 4
) "build machine";
assert check (lib.hasInfix "Port 31999\n"
  darwin.environment.etc."ssh/ssh_config.d/100-builderbar.conf".text
) "ssh_config";
assert check (
  (builtins.fromJSON darwin.environment.etc."builderbar/settings.json".text).port == 31999
) "settings.json";
assert check (lib.all (a: a.assertion) darwin.assertions) "a complete config passes its assertions";
assert check (lib.any (
  a: !a.assertion
) darwinNoKey.assertions) "a missing host key is an assertion";
assert check (
  darwin.launchd.user.agents.builderbar.serviceConfig.ProgramArguments == [
    "/nix/store/00000000000000000000000000000000-builderbar/bin/builderbar-app"
  ]
) "login agent";
assert check
  (lib.hasInfix "echo READY-42 > /dev/console" builder.systemd.services.builderbar-ready.script)
  "ready marker";
assert check (lib.hasInfix "by_name/opt/builderbar" builder.systemd.services.builderbar-keys.script)
  "fw_cfg prefix";
assert check (
  builder.fileSystems."/".device == "/dev/disk/by-id/virtio-root"
) "root disk by serial";
assert check (builder.nix.settings.trusted-users == [ "builder" ]) "trusted builder";
"ok"
