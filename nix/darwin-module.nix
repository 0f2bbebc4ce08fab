# darwinModules.default: Builderbar for people whose /etc belongs to nix-darwin. Installs the
# app, declares its settings, and writes the Nix wiring (build machine, ssh config) that the
# app would otherwise apply itself through its one authorization prompt.
self:
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.services.builderbar;
  guestSystem = if pkgs.stdenv.hostPlatform.isAarch64 then "aarch64-linux" else "x86_64-linux";
  alias = "builderbar";
in
{
  options.services.builderbar = {
    enable = lib.mkEnableOption "Builderbar, a Linux builder in the menu bar";
    package = lib.mkOption {
      type = lib.types.package;
      default = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
      defaultText = lib.literalExpression "builderbar.packages.\${system}.default";
      description = "The Builderbar app.";
    };
    startAtLogin = lib.mkOption {
      type = lib.types.bool;
      default = true;
      description = "Start the menu-bar app when a user logs in.";
    };
    cores = lib.mkOption {
      type = lib.types.ints.positive;
      default = 4;
      description = "Virtual CPUs of the builder; also its maxJobs.";
    };
    memoryMiB = lib.mkOption {
      type = lib.types.ints.positive;
      default = 4096;
      description = "Memory of the builder in MiB.";
    };
    diskGiB = lib.mkOption {
      type = lib.types.ints.positive;
      default = 40;
      description = "Size of the builder's state disk in GiB (the stock image keeps its own 20 GiB).";
    };
    port = lib.mkOption {
      type = lib.types.port;
      default = 31122;
      description = "Loopback port the builder's SSH is reached on (127.0.0.1 only).";
    };
    onDemand = lib.mkOption {
      type = lib.types.bool;
      default = true;
      description = "Start the builder when a build connects, instead of keeping it running.";
    };
    idleMinutes = lib.mkOption {
      type = lib.types.ints.positive;
      default = 30;
      description = "With onDemand, stop the builder after this many minutes without builds.";
    };
    image = lib.mkOption {
      type = lib.types.either (lib.types.enum [
        "stock"
        "builderbar"
      ]) lib.types.path;
      default = "stock";
      description = ''
        The builder image: "stock" (nixpkgs' darwin.linux-builder, substituted), "builderbar"
        (the hardened image, built on the stock one), or an image directory.
      '';
    };
    nixWiring = {
      enable = lib.mkOption {
        type = lib.types.bool;
        default = true;
        description = "Declare the builder in nix.buildMachines and its ssh_config block.";
      };
      publicHostKey = lib.mkOption {
        type = lib.types.nullOr lib.types.str;
        default = null;
        example = "c3NoLWVkMjU1MTkgQUFBQUMzTnphQzFsWkRJMU5URTVBQUFB...";
        description = ''
          The builder's public host key, base64-encoded as in a machines line. Builderbar makes
          it per install: copy it from the app's setup window or `builderbar keys show`.
        '';
      };
      sshKey = lib.mkOption {
        type = lib.types.str;
        default = "/etc/nix/builderbar_ed25519";
        description = "Client key nix-daemon (root) uses to reach the builder; the app installs it.";
      };
    };
  };

  config = lib.mkIf cfg.enable (
    lib.mkMerge [
      {
        environment.systemPackages = [ cfg.package ];
        # The app reads this as settings managed by the system, shown but not editable.
        environment.etc."builderbar/settings.json".text = builtins.toJSON {
          managed_by = "nix-darwin";
          inherit (cfg) cores port;
          memory_mib = cfg.memoryMiB;
          disk_gib = cfg.diskGiB;
          on_demand = cfg.onDemand;
          idle_minutes = cfg.idleMinutes;
          image = toString cfg.image;
          nix_wiring = cfg.nixWiring.enable;
        };
        launchd.user.agents.builderbar = lib.mkIf cfg.startAtLogin {
          serviceConfig = {
            ProgramArguments = [ (lib.getExe cfg.package) ];
            RunAtLoad = true;
            ProcessType = "Interactive";
          };
        };
      }
      (lib.mkIf cfg.nixWiring.enable {
        assertions = [
          {
            assertion = cfg.nixWiring.publicHostKey != null;
            message = ''
              services.builderbar.nixWiring.publicHostKey is not set. Start Builderbar once, copy the
              builder's host key from its setup window (or `builderbar keys show`), set it, and switch.
            '';
          }
        ];
        nix.distributedBuilds = true;
        nix.settings.builders-use-substitutes = true;
        nix.buildMachines = [
          {
            hostName = alias;
            protocol = "ssh-ng";
            sshUser = "builder";
            inherit (cfg.nixWiring) sshKey publicHostKey;
            systems = [ guestSystem ];
            maxJobs = cfg.cores;
            speedFactor = 1;
            supportedFeatures = [
              "benchmark"
              "big-parallel"
            ];
          }
        ];
        # nix-daemon runs ssh as root; the port and the pinned key's alias live here.
        environment.etc."ssh/ssh_config.d/100-builderbar.conf".text = ''
          Host ${alias}
            HostName 127.0.0.1
            Port ${toString cfg.port}
            User builder
            HostKeyAlias ${alias}
            IdentityFile ${cfg.nixWiring.sshKey}
            IdentitiesOnly yes
        '';
      })
    ]
  );
}
