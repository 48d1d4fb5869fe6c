# One slot (blue or green) of the sample app as a real local process. The process is
# started by a create-time provisioner and stopped by a destroy-time one; the
# terraform_data resource only records where its pid file lives. Any change to what the
# process runs replaces the resource: the old process stops, then the new one starts.

locals {
  # abspath: the pid file path is stored in state and read back at destroy time, so it
  # must not depend on the directory OpenTofu happens to run in then.
  run_dir  = abspath(coalesce(var.run_dir, "${path.root}/.run"))
  basename = "sampleapp-${var.slot}-${var.port}"
  # The script is run by path rather than inlined, so OpenTofu's "Executing: ..." line
  # and its error messages show one short command instead of the whole script.
  script   = abspath("${path.module}/scripts/sampleapp.sh")
  pid_file = "${local.run_dir}/${local.basename}.pid"
  # abspath, like run_dir: the state records which file the slot serves, whatever
  # directory OpenTofu runs in next time. "" means no database.
  db_path = var.db_path == "" ? "" : abspath(var.db_path)
  flags   = var.flags_file == "" ? "" : abspath(var.flags_file)

  # Drift detection. terraform_data has no remote object to refresh, so a process that
  # died or was killed outside a release would be invisible to `tofu plan`. The app
  # runs under a supervisor that removes its pid file when it exits (see the script),
  # and this value, part of triggers_replace, turns a missing pid file into a planned
  # replacement.
  #
  # While the pid file exists the value is the known "running", equal to what the state
  # holds: no change. Without it the value is unknown during plan (timestamp() is only
  # known at apply) and "running" again at apply. An unknown trigger forces a replace,
  # and the state still ends up holding "running", so the next plan is clean. A known
  # "stopped" would not do: it would be stored, and the following plan would replace
  # the healthy process again. A first create also plans the unknown (there is no pid
  # file yet), which changes nothing there: the resource is created either way.
  process = fileexists(local.pid_file) ? "running" : "running${substr(timestamp(), 0, 0)}"
}

resource "terraform_data" "app" {
  triggers_replace = {
    slot    = var.slot
    version = var.app_version
    port    = var.port
    binary  = var.binary
    fail    = var.fail
    run_dir = local.run_dir
    db_path = local.db_path
    flags   = local.flags
    process = local.process
  }

  # A destroy-time provisioner may only reference self, so everything it needs to find
  # and stop the process travels in input (and so in state).
  input = {
    slot     = var.slot
    version  = var.app_version
    port     = var.port
    url      = "http://127.0.0.1:${var.port}"
    pid_file = local.pid_file
    log_file = "${local.run_dir}/${local.basename}.log"
  }

  # A failed create taints the resource, and OpenTofu never runs destroy provisioners of
  # tainted resources: the script therefore stops whatever it started before it fails.
  provisioner "local-exec" {
    interpreter = ["/bin/bash", "-c"]
    command     = "exec /bin/bash \"$APP_SCRIPT\" start"
    environment = {
      APP_SCRIPT         = local.script
      APP_SLOT           = var.slot
      APP_VERSION        = var.app_version
      APP_PORT           = var.port
      APP_BINARY         = var.binary
      APP_FAIL           = var.fail
      APP_DB             = local.db_path
      APP_FLAGS          = local.flags
      APP_PID_FILE       = self.input.pid_file
      APP_LOG_FILE       = self.input.log_file
      APP_HEALTH_TIMEOUT = var.health_timeout_seconds
    }
  }

  provisioner "local-exec" {
    when        = destroy
    interpreter = ["/bin/bash", "-c"]
    command     = "exec /bin/bash \"$APP_SCRIPT\" stop"
    environment = {
      # Not local.script: destroy-time provisioners may not reference locals.
      APP_SCRIPT   = abspath("${path.module}/scripts/sampleapp.sh")
      APP_SLOT     = self.input.slot
      APP_PORT     = self.input.port
      APP_PID_FILE = self.input.pid_file
    }
  }
}
