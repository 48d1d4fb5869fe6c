variable "name" {
  description = "Name of the load balancer; the target groups are called NAME-blue and NAME-green and the security group starts with NAME-alb-. At most 26 letters, digits and hyphens (target group names are limited to 32), not starting or ending with a hyphen."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9]([A-Za-z0-9-]{0,24}[A-Za-z0-9])?$", var.name)) && !startswith(lower(var.name), "internal-")
    error_message = "The name must be 1-26 letters, digits or hyphens, neither starting nor ending with a hyphen nor starting with \"internal-\"."
  }
}

variable "vpc_id" {
  description = "VPC of the load balancer and both target groups."
  type        = string
  nullable    = false

  validation {
    condition     = startswith(var.vpc_id, "vpc-")
    error_message = "The vpc_id must be a VPC id such as vpc-0123456789abcdef0."
  }
}

variable "subnet_ids" {
  description = "Subnets of the load balancer, in at least two Availability Zones (an ALB requirement). Public subnets for an internet-facing ALB, private ones with internal = true."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.subnet_ids) >= 2 && alltrue([for s in var.subnet_ids : startswith(s, "subnet-")])
    error_message = "The subnet_ids must list at least two subnet ids (subnet-...), in different Availability Zones."
  }
}

variable "internal" {
  description = "Make the load balancer internal (reachable only inside the VPC) instead of internet-facing."
  type        = bool
  default     = false
  nullable    = false
}

variable "allowed_cidr_blocks" {
  description = "IPv4 CIDR blocks allowed to reach the listener port."
  type        = list(string)
  default     = ["0.0.0.0/0"]
  nullable    = false

  validation {
    condition     = alltrue([for c in var.allowed_cidr_blocks : can(cidrhost(c, 0)) && !strcontains(c, ":")])
    error_message = "The allowed_cidr_blocks must be IPv4 CIDR blocks such as 10.0.0.0/8."
  }
}

variable "listener_port" {
  description = "Port the load balancer listens on: 80 for HTTP, usually 443 with certificate_arn."
  type        = number
  default     = 80
  nullable    = false

  validation {
    condition     = var.listener_port >= 1 && var.listener_port <= 65535 && floor(var.listener_port) == var.listener_port
    error_message = "The listener_port must be a whole number from 1 to 65535."
  }
}

variable "certificate_arn" {
  description = "ACM certificate ARN. Set, the listener speaks HTTPS with ssl_policy; null (the default), plain HTTP."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn == null ? true : startswith(var.certificate_arn, "arn:")
    error_message = "The certificate_arn must be null or an ACM certificate ARN (arn:aws:acm:...)."
  }
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener; ignored without certificate_arn."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  nullable    = false
}

variable "port" {
  description = "Port the application listens on in both slots: the target groups' port and the health check's."
  type        = number
  default     = 8080
  nullable    = false

  validation {
    condition     = var.port >= 1 && var.port <= 65535 && floor(var.port) == var.port
    error_message = "The port must be a whole number from 1 to 65535."
  }
}

variable "target_type" {
  description = "How targets are registered in both target groups: \"instance\" (EC2 instance ids, e.g. from an Auto Scaling group) or \"ip\" (e.g. ECS tasks in awsvpc mode)."
  type        = string
  default     = "instance"
  nullable    = false

  validation {
    condition     = contains(["instance", "ip"], var.target_type)
    error_message = "The target_type must be \"instance\" or \"ip\"."
  }
}

variable "health_check_path" {
  description = "Path the target groups' health check requests; the sample app serves /healthz."
  type        = string
  default     = "/healthz"
  nullable    = false

  validation {
    condition     = startswith(var.health_check_path, "/") && length(var.health_check_path) <= 1024
    error_message = "The health_check_path must start with / and be at most 1024 characters."
  }
}

variable "health_check_matcher" {
  description = "HTTP codes a healthy target answers, e.g. \"200\" or \"200-299\"."
  type        = string
  default     = "200"
  nullable    = false
}

variable "deregistration_delay" {
  description = "Seconds a deregistered target keeps draining in-flight requests."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.deregistration_delay >= 0 && var.deregistration_delay <= 3600 && floor(var.deregistration_delay) == var.deregistration_delay
    error_message = "The deregistration_delay must be a whole number of seconds from 0 to 3600."
  }
}

variable "blue_weight" {
  description = "Percentage of requests the listener forwards to the blue target group, 0-100. blue_weight + green_weight must be 100."
  type        = number
  default     = 100
  nullable    = false

  validation {
    condition     = var.blue_weight >= 0 && var.blue_weight <= 100 && floor(var.blue_weight) == var.blue_weight
    error_message = "The blue_weight must be a whole number from 0 to 100."
  }
}

variable "green_weight" {
  description = "Percentage of requests the listener forwards to the green target group, 0-100. blue_weight + green_weight must be 100."
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.green_weight >= 0 && var.green_weight <= 100 && floor(var.green_weight) == var.green_weight
    error_message = "The green_weight must be a whole number from 0 to 100."
  }
}

variable "deletion_protection" {
  description = "Turn on the load balancer's deletion protection (recommended for production)."
  type        = bool
  default     = false
  nullable    = false
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
  nullable    = false
}
