terraform {
  # strcontains() in a validation needs Terraform >= 1.5; every OpenTofu release has it.
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}
