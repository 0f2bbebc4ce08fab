{
  description = "Builderbar: a Linux builder for every Mac with Nix, in the menu bar";

  # The stable darwin branch: Hydra builds darwin.linux-builder (and the whole Linux closure
  # of its guest) for it before the branch advances, so stage 1 substitutes from
  # cache.nixos.org with no extra trust. flake.lock pins one revision of it; docs/flake.md
  # says how to move the pin.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixpkgs-26.05-darwin";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      # Intel Macs: 26.05 is the last nixpkgs release that builds for x86_64-darwin, so the
      # outputs for them exist only while the pin is on 26.05 or older (docs/flake.md).
      darwinSystems = [
        "aarch64-darwin"
      ]
      ++ lib.optional (lib.versionOlder lib.trivial.release "26.11") "x86_64-darwin";
      linuxSystems = [
        "aarch64-linux"
        "x86_64-linux"
      ];
      forSystems = systems: f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      forAll = forSystems (darwinSystems ++ linuxSystems);
      guestOf = builtins.replaceStrings [ "darwin" ] [ "linux" ];

      # Stage 2's guest system for a Mac of this kind.
      builderSystem =
        system:
        lib.nixosSystem {
          modules = [
            self.nixosModules.builder
            { nixpkgs.hostPlatform = guestOf system; }
          ];
        };

      darwinPackages =
        pkgs:
        let
          stock = pkgs.callPackage ./nix/image-stock.nix { };
        in
        {
          builder-image-stock = stock;
          builder-image = pkgs.callPackage ./nix/image-builderbar.nix {
            nixosConfig = (builderSystem pkgs.stdenv.hostPlatform.system).config;
            qemu = stock.nixosConfig.virtualisation.qemu.package;
          };
        };
    in
    {
      packages = forAll (
        pkgs:
        {
          default = pkgs.callPackage ./nix/package.nix { };
        }
        // lib.optionalAttrs pkgs.stdenv.hostPlatform.isDarwin (darwinPackages pkgs)
      );

      apps = forAll (pkgs: {
        default = {
          type = "app";
          program = lib.getExe self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };
      });

      nixosModules.builder = ./nix/builder-module.nix;
      nixosConfigurations = lib.genAttrs darwinSystems (system: builderSystem system);

      darwinModules.default = import ./nix/darwin-module.nix self;

      devShells = forAll (pkgs: {
        default = pkgs.callPackage ./nix/devshell.nix { };
      });

      formatter = forAll (pkgs: pkgs.nixfmt-rfc-style);

      checks = forAll (
        pkgs:
        {
          nix-lint = pkgs.callPackage ./nix/check-lint.nix { src = self; };
          # The manifest the two images write, as the Rust parser sees it.
          manifest =
            pkgs.runCommand "builderbar-manifest-check"
              {
                stock = builtins.toJSON (import ./nix/manifest.nix (import ./tests/nix/sample-args.nix).stock);
                builderbar = builtins.toJSON (
                  import ./nix/manifest.nix (import ./tests/nix/sample-args.nix).builderbar
                );
                nativeBuildInputs = [ pkgs.jq ];
              }
              ''
                echo "$stock" | jq -e '.schema == 1 and .host_key.kind == "fixed"'
                echo "$builderbar" | jq -e '.schema == 1 and .host_key.kind == "runtime"'
                touch "$out"
              '';
        }
        // lib.optionalAttrs pkgs.stdenv.hostPlatform.isDarwin {
          # Evaluates both images' manifests against the pinned nixpkgs (a drift shows here).
          stock-manifest = pkgs.writeText "stock-manifest.json" (
            builtins.toJSON self.packages.${pkgs.stdenv.hostPlatform.system}.builder-image-stock.manifest
          );
        }
      );
    };
}
