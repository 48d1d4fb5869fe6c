# An Application Load Balancer in front of two target groups, blue and green, and one
# listener whose default action forwards to both by weight: a blue/green or canary
# split that the weights (or runbook's alb traffic router) move between the slots.
# The module creates no targets: register the instances or tasks of each slot in its
# target group (an Auto Scaling group's target_group_arns, an ECS service's
# load_balancer block, ...) from the outputs.

data "aws_vpc" "this" {
  id = var.vpc_id
}

resource "aws_security_group" "alb" {
  name_prefix = "${var.name}-alb-"
  description = "ALB ${var.name}: listener port in from allowed_cidr_blocks, application port out to the VPC"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-alb" })

  # A new group must exist before the ALB can drop the old one.
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "listener" {
  for_each = toset(var.allowed_cidr_blocks)

  security_group_id = aws_security_group.alb.id
  description       = "Clients to the listener"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = var.listener_port
  to_port           = var.listener_port
  tags              = var.tags
}

# Requests and health checks both go to the application port of targets in the VPC.
resource "aws_vpc_security_group_egress_rule" "targets" {
  security_group_id = aws_security_group.alb.id
  description       = "ALB to the targets of both slots"
  cidr_ipv4         = data.aws_vpc.this.cidr_block
  ip_protocol       = "tcp"
  from_port         = var.port
  to_port           = var.port
  tags              = var.tags
}

resource "aws_lb" "this" {
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = var.internal
  security_groups            = [aws_security_group.alb.id]
  subnets                    = var.subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  tags                       = merge(var.tags, { Name = var.name })
}

resource "aws_lb_target_group" "slot" {
  for_each = toset(["blue", "green"])

  name                 = "${var.name}-${each.key}"
  port                 = var.port
  protocol             = "HTTP"
  target_type          = var.target_type
  vpc_id               = var.vpc_id
  deregistration_delay = var.deregistration_delay

  health_check {
    enabled             = true
    protocol            = "HTTP"
    port                = "traffic-port"
    path                = var.health_check_path
    matcher             = var.health_check_matcher
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  tags = merge(var.tags, { Name = "${var.name}-${each.key}", Slot = each.key })
}

resource "aws_lb_listener" "this" {
  load_balancer_arn = aws_lb.this.arn
  port              = var.listener_port
  protocol          = var.certificate_arn == null ? "HTTP" : "HTTPS"
  ssl_policy        = var.certificate_arn == null ? null : var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type = "forward"

    forward {
      target_group {
        arn    = aws_lb_target_group.slot["blue"].arn
        weight = var.blue_weight
      }

      target_group {
        arn    = aws_lb_target_group.slot["green"].arn
        weight = var.green_weight
      }

      # Off: a canary's error ratio is only meaningful when each request is routed by
      # weight, not pinned to the slot a client first landed on.
      stickiness {
        enabled  = false
        duration = 1
      }
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.blue_weight + var.green_weight == 100
      error_message = "The blue_weight and green_weight are percentages and must add up to 100; they add up to ${var.blue_weight + var.green_weight}."
    }
  }
}
