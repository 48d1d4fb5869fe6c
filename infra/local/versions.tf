terraform {
  # terraform_data (the only resource here) needs Terraform >= 1.4; every OpenTofu has it.
  # It lives in the built-in "terraform" provider, so `tofu init` downloads nothing.
  required_version = ">= 1.4.0"
}
