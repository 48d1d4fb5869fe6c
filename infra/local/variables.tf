variable "slot" {
  description = "Release slot this instance serves: \"blue\" or \"green\". Part of the pid and log file names, so both slots can run side by side in one run_dir."
  type        = string
  default     = "blue"
  nullable    = false

  validation {
    condition     = contains(["blue", "green"], var.slot)
    error_message = "The slot must be \"blue\" or \"green\"."
  }
}

# Named app_version, not version: OpenTofu and Terraform reserve the variable name
# "version" for module blocks.
variable "app_version" {
  description = "Version of the sample app to run; passed as --version and answered at /version. Letters, digits and . _ + - only (a semver such as 1.4.2 fits)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$", var.app_version))
    error_message = "The app_version must be 1-128 characters of letters, digits, '.', '_', '+' or '-', starting with a letter or digit (for example 1.4.2)."
  }
}

variable "port" {
  description = "TCP port on 127.0.0.1 the sample app listens on. The apply fails with a clear message when something already listens there."
  type        = number
  nullable    = false

  validation {
    condition     = var.port >= 1 && var.port <= 65535 && floor(var.port) == var.port
    error_message = "The port must be a whole number from 1 to 65535."
  }
}

variable "binary" {
  description = "Absolute path of the sample app binary (build it with: CGO_ENABLED=0 go build -o bin/sampleapp ./test/sampleapp)."
  type        = string
  nullable    = false

  validation {
    condition     = startswith(var.binary, "/")
    error_message = "The binary must be an absolute path (runbook runs OpenTofu in its own working directory, so relative paths would not resolve)."
  }
}

variable "run_dir" {
  description = "Directory for the pid and log files. Null (the default) means \".run\" under the root module's directory, which is runbook's working directory; a relative path is resolved against that directory too."
  type        = string
  default     = null

  validation {
    condition     = var.run_dir == null ? true : trimspace(var.run_dir) != ""
    error_message = "The run_dir must be null (the default) or a non-empty path."
  }
}

variable "db_path" {
  description = "SQLite database file the app serves /orders from (passed as --db; created when missing, its schema comes from the release's migrations). Empty (the default) means none: /orders answers 503. A relative path is resolved against the working directory OpenTofu runs in; it is stored as an absolute path."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.db_path == "" || (trimspace(var.db_path) != "" && !can(regex("^[A-Za-z][A-Za-z0-9+.-]*://", var.db_path)))
    error_message = "The db_path must be empty or a file path, not a URL: give the SQLite file itself (/abs/path/checkout.db), not the sqlite:// connection string the migrations use."
  }
}

variable "fail" {
  description = "Start the sample app with --fail, so /healthz answers 500: a release that breaches its SLOs, for rollback demos. The apply then waits for /version instead of /healthz."
  type        = bool
  default     = false
  nullable    = false
}

variable "health_timeout_seconds" {
  description = "How long the apply waits for the new process to answer over HTTP before it stops the process, prints the log tail and fails."
  type        = number
  default     = 20
  nullable    = false

  validation {
    condition     = var.health_timeout_seconds >= 1 && var.health_timeout_seconds <= 600 && floor(var.health_timeout_seconds) == var.health_timeout_seconds
    error_message = "The health_timeout_seconds must be a whole number from 1 to 600."
  }
}

variable "flags_file" {
  description = "flagd flag definitions file the app evaluates its feature flag from (passed as --flags; a flag step of the release changes it). Empty (the default) means none. A relative path is resolved against the working directory OpenTofu runs in; it is stored as an absolute path."
  type        = string
  default     = ""
  nullable    = false
}
