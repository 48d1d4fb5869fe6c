output "url" {
  description = "Base URL of the running sample app, http://127.0.0.1:PORT (it serves /healthz, /version and, with db_path, /orders)."
  value       = terraform_data.app.output.url
}

output "slot" {
  description = "The slot this instance serves: \"blue\" or \"green\"."
  value       = terraform_data.app.output.slot
}

output "pid_file" {
  description = "Absolute path of the file holding the process id; its log sits beside it with a .log suffix."
  value       = terraform_data.app.output.pid_file
}

output "version" {
  description = "The version the running process reports at /version."
  value       = terraform_data.app.output.version
}

output "log_file" {
  description = "Absolute path of the process's log (stdout and stderr, appended across restarts)."
  value       = terraform_data.app.output.log_file
}
