# Test fixture: a "deployment" made only of the built-in terraform_data resource
# and local-exec, so the tests need no provider download and no network.

variable "release_version" {
  type        = string
  description = "Set by runbook from the release version."
}

variable "out_dir" {
  type        = string
  description = "Directory the deployment writes its file into."
}

variable "token" {
  type      = string
  sensitive = true
  default   = ""
}

# A non-secret-looking variable the tests feed from env: - the module quotes it
# in an error and an output, as modules do, and runbook must redact it.
variable "label" {
  type    = string
  default = ""
  validation {
    condition     = !strcontains(var.label, "forbidden")
    error_message = "The label \"${var.label}\" is forbidden."
  }
}

variable "replicas" {
  type    = number
  default = 2
}

variable "sleep_seconds" {
  type        = number
  default     = 0
  description = "How long the deploy step takes; the cancel test makes it long."
}

locals {
  path = "${var.out_dir}/release.txt"
}

# The deployment: a file holding the released version, written when the
# version changes and removed on destroy.
resource "terraform_data" "release" {
  triggers_replace = var.release_version
  input            = local.path

  provisioner "local-exec" {
    command = "sleep \"$S\" && printf '%s' \"$V\" > \"$F\""
    environment = {
      S = var.sleep_seconds
      V = var.release_version
      F = local.path
    }
  }

  provisioner "local-exec" {
    when    = destroy
    command = "rm -f \"$F\""
    environment = {
      F = self.input
    }
  }
}

# Built-in providers cannot read a file during refresh, so this resource makes
# the outside world visible to a plan: its trigger is the release's id plus
# what the file holds now. The id is unknown until the release is applied, so
# the trigger is evaluated after the file is written and stays stable while the
# file is untouched; an edit or deletion outside a release changes it and the
# next plan replaces this resource - which Drift reports.
resource "terraform_data" "observed" {
  triggers_replace = "${terraform_data.release.id}:${fileexists(local.path) ? file(local.path) : "missing"}"
}

output "version" {
  value = var.release_version
}

output "replicas" {
  value = var.replicas
}

output "labels" {
  value = { service = "checkout", version = var.release_version }
}

output "label" {
  value = var.label
}

output "token" {
  value     = var.token
  sensitive = true
}
