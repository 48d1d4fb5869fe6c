# A module whose apply runs until the test lets it finish, so a test can abort
# a release while OpenTofu applies: the create-time provisioner marks that the
# apply started (applying-<version> in signal_dir), then waits up to two
# minutes for signal_dir/proceed.

variable "app_version" {
  type = string
}

variable "signal_dir" {
  type = string
}

resource "terraform_data" "release" {
  triggers_replace = { version = var.app_version }
  input            = { version = var.app_version }

  provisioner "local-exec" {
    interpreter = ["/bin/bash", "-c"]
    command     = <<-EOT
      touch "$SIGNAL_DIR/applying-$APP_VERSION"
      for ((i = 0; i < 1200; i++)); do
        [[ -e $SIGNAL_DIR/proceed ]] && exit 0
        sleep 0.1
      done
      echo "no $SIGNAL_DIR/proceed after 120s" >&2
      exit 1
    EOT
    environment = {
      SIGNAL_DIR  = var.signal_dir
      APP_VERSION = var.app_version
    }
  }
}

output "version" {
  value = terraform_data.release.output.version
}
